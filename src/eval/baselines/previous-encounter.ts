// Baseline: repeat the medications of the patient's last earlier encounter; patients without an
// earlier encounter get the most-frequent baseline instead.
import type { DatasetRecord } from '../../dataset/types.ts';
import type { FitContext, FitReport, Recommender } from '../method.ts';
import { labelFrequencies, labelIndex, medianLabelCount, topKFrequencyScores } from './label-frequency.ts';

export class PreviousEncounterRecommender implements Recommender {
  readonly name = 'previous';
  readonly threshold = 0.5;
  private freq: Float64Array | undefined;
  private fallback: Float32Array | undefined;
  private index = new Map<string, number>();

  async fit(train: readonly DatasetRecord[], _validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const started = performance.now();
    if (train.length === 0) throw new Error('previous: no training records');
    this.index = labelIndex(ctx.labels);
    this.freq = labelFrequencies(train, ctx.labels);
    this.fallback = topKFrequencyScores(this.freq, medianLabelCount(train));
    return { seconds: (performance.now() - started) / 1000 };
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    const { freq, fallback } = this;
    if (!freq || !fallback) throw new Error('previous: predict before fit');
    return records.map((r) => {
      const last = r.history[r.history.length - 1];
      if (!last) return fallback.slice();
      // Score 1/0 in effect (above/below 0.5); frequency breaks the ties inside each group for ranking metrics.
      const scores = new Float32Array(freq.length);
      for (let i = 0; i < freq.length; i++) scores[i] = (freq[i] as number) / 2;
      for (const l of last.medications) {
        const i = this.index.get(l);
        if (i !== undefined) scores[i] = 0.5 + (freq[i] as number) / 2;
      }
      return scores;
    });
  }
}
