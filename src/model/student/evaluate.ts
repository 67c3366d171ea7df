// Held-out figures a model carries in its manifest (validation and test), from the shared per-sample metrics.
import type { DatasetRecord } from '../../dataset/types.ts';
import { averagePrecision, f1, jaccard, meanDefined, predictedSet } from '../../eval/metrics.ts';
import type { ModelMetrics } from '../runtime/manifest.ts';

export function heldOutMetrics(
  probabilities: readonly Float32Array[],
  records: readonly DatasetRecord[],
  labels: readonly string[],
  threshold: number,
): ModelMetrics {
  const index = new Map(labels.map((l, i) => [l, i] as const));
  const ap: number[] = [];
  const ja: number[] = [];
  const f: number[] = [];
  let predictedCount = 0;
  records.forEach((r, i) => {
    const truth = new Set(r.labels.map((l) => index.get(l)).filter((x): x is number => x !== undefined));
    const scores = probabilities[i]!;
    const predicted = predictedSet(scores, threshold);
    predictedCount += predicted.size;
    ap.push(averagePrecision(scores, truth));
    ja.push(jaccard(predicted, truth));
    f.push(f1(predicted, truth));
  });
  const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : undefined);
  const out: ModelMetrics = { samples: records.length };
  const prAuc = round(meanDefined(ap).mean);
  const jac = round(meanDefined(ja).mean);
  const f1m = round(meanDefined(f).mean);
  if (prAuc !== undefined) out.prAuc = prAuc;
  if (jac !== undefined) out.jaccard = jac;
  if (f1m !== undefined) out.f1 = f1m;
  if (records.length > 0) out.avgMedications = Math.round((predictedCount / records.length) * 100) / 100;
  return out;
}
