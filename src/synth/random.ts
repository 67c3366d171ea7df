// Seeded randomness for the synthetic cohort: pure-rand underneath, so a seed always gives the same cohort.
import { xoroshiro128plus, type RandomGenerator } from 'pure-rand';

/** Mixes a seed and a patient index into an independent 32-bit stream seed (patients can be generated alone). */
export function streamSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h | 0;
}

export class Rng {
  private readonly gen: RandomGenerator;

  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return (this.gen.unsafeNext() >>> 0) / 4294967296;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  uniform(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks a key by weight; weights need not sum to 1. Zero-weight keys are never picked. */
  weighted<T>(entries: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of entries) total += Math.max(0, w);
    if (total <= 0) throw new Error('weighted pick with no positive weight');
    let x = this.next() * total;
    for (const [item, w] of entries) {
      if (w <= 0) continue;
      x -= w;
      if (x < 0) return item;
    }
    // Rounding can leave x at 0 after the last positive weight.
    for (let i = entries.length - 1; i >= 0; i--) if ((entries[i]?.[1] ?? 0) > 0) return entries[i]![0];
    throw new Error('unreachable');
  }
}
