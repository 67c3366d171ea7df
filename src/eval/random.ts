// Seeded randomness for evaluation (splits, rounds, baseline training): same seed, same result.
import prand from 'pure-rand';

export class SeededRandom {
  private readonly rng: prand.RandomGenerator;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    this.rng = prand.xoroshiro128plus(Math.trunc(seed) | 0);
  }

  /** Uniform integer in [from, to], both inclusive. */
  int(from: number, to: number): number {
    return prand.unsafeUniformIntDistribution(from, to, this.rng);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    const hi = prand.unsafeUniformIntDistribution(0, (1 << 26) - 1, this.rng);
    const lo = prand.unsafeUniformIntDistribution(0, (1 << 27) - 1, this.rng);
    return (hi * 2 ** 27 + lo) / 2 ** 53;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** `count` distinct indices of [0, n), without replacement, in increasing order. */
  sample(n: number, count: number): number[] {
    if (count > n || count < 0) throw new RangeError(`cannot draw ${count} of ${n} without replacement`);
    const idx = Array.from({ length: n }, (_, i) => i);
    // Partial Fisher-Yates: only the first `count` positions need to be drawn.
    for (let i = 0; i < count; i++) {
      const j = this.int(i, n - 1);
      const tmp = idx[i] as number;
      idx[i] = idx[j] as number;
      idx[j] = tmp;
    }
    return idx.slice(0, count).sort((a, b) => a - b);
  }
}
