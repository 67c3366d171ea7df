// Label statistics of a training set that several baselines share.
import type { DatasetRecord } from '../../dataset/types.ts';

/** Share of training records that carry each label (aligned with `labels`); labels outside the vocabulary are ignored. */
export function labelFrequencies(records: readonly DatasetRecord[], labels: readonly string[]): Float64Array {
  const index = labelIndex(labels);
  const freq = new Float64Array(labels.length);
  for (const r of records) {
    for (const l of new Set(r.labels)) {
      const i = index.get(l);
      if (i !== undefined) freq[i] = (freq[i] as number) + 1;
    }
  }
  if (records.length > 0) for (let i = 0; i < freq.length; i++) freq[i] = (freq[i] as number) / records.length;
  return freq;
}

export function labelIndex(labels: readonly string[]): Map<string, number> {
  return new Map(labels.map((l, i) => [l, i]));
}

/** Median number of labels per training record (rounded half up); 0 for no records. */
export function medianLabelCount(records: readonly DatasetRecord[]): number {
  if (records.length === 0) return 0;
  const counts = records.map((r) => new Set(r.labels).size).sort((a, b) => a - b);
  const mid = counts.length >> 1;
  return counts.length % 2 === 1 ? (counts[mid] as number) : Math.round(((counts[mid - 1] as number) + (counts[mid] as number)) / 2);
}

/**
 * Scores that rank labels by training frequency and put exactly the top `k` at or above 0.5:
 * top-k labels score 0.5 + f/2, the others f/2 (a monotone rescaling, so ranking metrics see the
 * frequencies themselves). Frequency ties are broken by label order, so the set always has k labels.
 */
export function topKFrequencyScores(freq: Float64Array, k: number): Float32Array {
  const order = Array.from(freq.keys()).sort((a, b) => (freq[b] as number) - (freq[a] as number) || a - b);
  const scores = new Float32Array(freq.length);
  for (let i = 0; i < freq.length; i++) scores[i] = (freq[i] as number) / 2;
  for (const i of order.slice(0, k)) scores[i] = 0.5 + (freq[i] as number) / 2;
  return scores;
}
