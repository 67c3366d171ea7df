// Baseline: recommend the k most frequent training labels to everyone (k = median labels per training record).
import type { DatasetRecord } from '../../dataset/types.ts';
import type { FitContext, FitReport, Recommender } from '../method.ts';
import { labelFrequencies, medianLabelCount, topKFrequencyScores } from './label-frequency.ts';

export class MostFrequentRecommender implements Recommender {
  readonly name = 'most-frequent';
  readonly threshold = 0.5;
  private scores: Float32Array | undefined;
  k = 0;

  async fit(train: readonly DatasetRecord[], _validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const started = performance.now();
    if (train.length === 0) throw new Error('most-frequent: no training records');
    this.k = medianLabelCount(train);
    this.scores = topKFrequencyScores(labelFrequencies(train, ctx.labels), this.k);
    return { seconds: (performance.now() - started) / 1000 };
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    const scores = this.scores;
    if (!scores) throw new Error('most-frequent: predict before fit');
    return records.map(() => scores.slice());
  }
}
