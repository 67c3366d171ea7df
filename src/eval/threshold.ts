// Decision threshold chosen on validation data: the one global cut on probabilities that maximises mean
// Jaccard there. Learned methods choose it the same way so that set metrics compare models, not cut-offs.
import { jaccard, predictedSet } from './metrics.ts';

/** Candidate cuts 0.05, 0.10, ..., 0.95. */
export const THRESHOLD_GRID: readonly number[] = Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100);

export interface ThresholdChoice {
  threshold: number;
  /** Mean Jaccard on the validation records at that threshold. */
  jaccard: number;
}

/**
 * The grid threshold with the highest mean validation Jaccard (ties: the one closest to `fallback`);
 * `fallback` itself when there is no validation record.
 */
export function chooseThreshold(
  scores: readonly ArrayLike<number>[],
  truths: readonly ReadonlySet<number>[],
  fallback: number,
  grid: readonly number[] = THRESHOLD_GRID,
): ThresholdChoice {
  if (scores.length !== truths.length) throw new RangeError(`chooseThreshold: ${scores.length} score rows for ${truths.length} truth sets`);
  if (scores.length === 0) return { threshold: fallback, jaccard: Number.NaN };
  let best: ThresholdChoice = { threshold: fallback, jaccard: -Infinity };
  for (const t of grid) {
    let sum = 0;
    for (let i = 0; i < scores.length; i++) sum += jaccard(predictedSet(scores[i]!, t), truths[i]!);
    const mean = sum / scores.length;
    if (mean > best.jaccard + 1e-12 || (Math.abs(mean - best.jaccard) <= 1e-12 && Math.abs(t - fallback) < Math.abs(best.threshold - fallback)))
      best = { threshold: t, jaccard: mean };
  }
  return best;
}
