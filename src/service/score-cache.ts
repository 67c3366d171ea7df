// Scores of records the model has already seen, for the model it was built with. An ordering session calls
// order-select at every selection and order-sign at the end with the same patient record: the record and its
// explanation (the occlusion batch, most of the model time) are scored once per session, not per call.
// Keyed by the record as the encoder reads it; the occlusion variants follow from the record and the bound, so
// one key per call covers them (hashing each variant would cost more than it saves).
import { createHash } from 'node:crypto';
import type { DatasetRecord } from '../dataset/types.ts';
import type { RecordScores } from './hooks/ports.ts';

/** What the model reads of a record (src/model/student/encode.ts), and nothing else: ids and dates are not inputs. */
export function recordKey(r: DatasetRecord): string {
  const profile = Object.keys(r.profile)
    .sort()
    .map((k) => [k, r.profile[k]]);
  const text = JSON.stringify([profile, r.history.map((h) => [h.diagnoses, h.procedures, h.medications]), r.diagnoses, r.procedures]);
  return createHash('sha256').update(text).digest('base64');
}

/** A record's own scores (with its substitutions), or its occlusion variants' scores. */
type Scores = RecordScores | readonly Float32Array[];

/** Least-recently-used, bounded in score vectors (64 floats each; an explanation holds one per occluded input). */
export class ScoreCache {
  private readonly entries = new Map<string, Scores>();
  private vectors = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxVectors: number,
    private readonly onLookup?: (hit: boolean) => void,
  ) {}

  private static weight(value: Scores): number {
    return 'probabilities' in value ? 1 : Math.max(1, value.length);
  }

  get<T extends Scores>(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.misses++;
      this.onLookup?.(false);
      return undefined;
    }
    this.hits++;
    this.onLookup?.(true);
    this.entries.delete(key);
    this.entries.set(key, value);
    return value as T;
  }

  set(key: string, value: Scores): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.vectors -= ScoreCache.weight(old);
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.vectors += ScoreCache.weight(value);
    while (this.vectors > this.maxVectors && this.entries.size > 1) {
      const oldest = this.entries.keys().next().value!;
      this.vectors -= ScoreCache.weight(this.entries.get(oldest)!);
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
