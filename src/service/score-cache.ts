// Scores of records the model has already seen, for the model it was built with. An ordering session calls
// order-select at every selection and order-sign at the end with the same patient record: the record and its
// occlusion variants (the explanation's batch, most of the model time) are scored once per session, not per call.
import { createHash } from 'node:crypto';
import type { DatasetRecord } from '../dataset/types.ts';
import type { MedicationModel } from './hooks/ports.ts';

/** What the model reads of a record (src/model/student/encode.ts), and nothing else: ids and dates are not inputs. */
export function recordKey(r: DatasetRecord): string {
  const profile = Object.keys(r.profile)
    .sort()
    .map((k) => [k, r.profile[k]]);
  const text = JSON.stringify([profile, r.history.map((h) => [h.diagnoses, h.procedures, h.medications]), r.diagnoses, r.procedures]);
  return createHash('sha256').update(text).digest('base64');
}

/** Least-recently-used, bounded in entries (64 float scores and a 44-character key each). */
export class ScoreCache {
  private readonly entries = new Map<string, Float32Array>();
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries: number) {}

  get(key: string): Float32Array | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: Float32Array): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * The model with a score cache in front: records seen before are answered from it, the rest go to the model in one
 * batch as before. Scores are shared, read-only arrays. One cache per loaded model, so a swap starts empty.
 */
export function cachedModel(model: MedicationModel, cache: ScoreCache, onLookup?: (hits: number, misses: number) => void): MedicationModel {
  return {
    version: model.version,
    labels: model.labels,
    threshold: model.threshold,
    labelInfo: (label) => model.labelInfo(label),
    async predict(records: DatasetRecord[]): Promise<Float32Array[]> {
      const keys = records.map(recordKey);
      const out: Array<Float32Array | undefined> = keys.map((k) => cache.get(k));
      // Each distinct missing record once, in one batch.
      const missing = new Map<string, DatasetRecord>();
      keys.forEach((k, i) => {
        if (out[i] === undefined && !missing.has(k)) missing.set(k, records[i]!);
      });
      const hits = out.filter((o) => o !== undefined).length;
      cache.hits += hits;
      cache.misses += records.length - hits;
      onLookup?.(hits, records.length - hits);
      if (missing.size > 0) {
        const scores = await model.predict([...missing.values()]);
        if (scores.length !== missing.size) throw new Error(`the model answered ${scores.length} score vectors for ${missing.size} records`);
        const fresh = new Map<string, Float32Array>();
        [...missing.keys()].forEach((k, i) => {
          fresh.set(k, scores[i]!);
          cache.set(k, scores[i]!);
        });
        keys.forEach((k, i) => (out[i] ??= fresh.get(k)));
      }
      return out as Float32Array[];
    },
  };
}
