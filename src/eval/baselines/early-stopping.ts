// Epoch bookkeeping shared by the typed-array baselines (logistic regression, MLP): the training curve, progress
// events, the best epoch by validation PR-AUC (ties broken by validation loss) with a snapshot of its weights,
// patience, and the sigmoid/BCE both train and validate with.
import type { FitContext, FitReport } from '../method.ts';
import { averagePrecision, meanDefined } from '../metrics.ts';
import type { Encoded } from './logistic-regression.ts';

export const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
export const bce = (p: number, positive: boolean) => -Math.log(Math.max(positive ? p : 1 - p, 1e-12));

export interface EpochValidation {
  prAuc: number;
  loss: number;
}

/** Mean per-sample PR-AUC and mean BCE over encoded validation data; `logits` writes one record's logits into z. */
export function scoreEncoded(data: Encoded, labels: number, logits: (features: Int32Array, z: Float64Array) => void): EpochValidation {
  const z = new Float64Array(labels);
  const aps: number[] = [];
  let loss = 0;
  for (let s = 0; s < data.features.length; s++) {
    logits(data.features[s] as Int32Array, z);
    const y = new Set(data.labels[s]);
    aps.push(averagePrecision(z, y));
    for (let j = 0; j < labels; j++) loss += bce(sigmoid(z[j] as number), y.has(j));
  }
  return { prAuc: meanDefined(aps).mean, loss: loss / (data.features.length * labels) };
}

export class EpochTracker<W> {
  readonly curve: NonNullable<FitReport['curve']> = [];
  best: { prAuc: number; loss: number; epoch: number; weights: W };
  private sinceBest = 0;

  constructor(
    initial: W,
    private readonly epochs: number,
    private readonly patience: number,
    private readonly onProgress: FitContext['onProgress'],
  ) {
    this.best = { prAuc: -Infinity, loss: Infinity, epoch: 0, weights: initial };
  }

  /**
   * Records one epoch and reports it; `snapshot` copies the current weights and is called for a new best only.
   * Returns true when patience has run out (the early-stop event is reported).
   */
  epochEnd(epoch: number, trainLoss: number, v: EpochValidation | undefined, snapshot: () => W, samplesPerSecond?: number): boolean {
    const validPrAuc = v?.prAuc;
    this.curve.push(validPrAuc === undefined ? { epoch, trainLoss } : { epoch, trainLoss, validPrAuc });
    this.onProgress?.({
      type: 'epoch',
      epoch,
      epochs: this.epochs,
      trainLoss,
      ...(samplesPerSecond === undefined ? {} : { samplesPerSecond }),
      ...(validPrAuc === undefined ? {} : { validPrAuc }),
    });
    if (v === undefined) return false;
    const best = this.best;
    if (v.prAuc > best.prAuc + 1e-9 || (v.prAuc >= best.prAuc - 1e-9 && v.loss < best.loss)) {
      this.best = { prAuc: v.prAuc, loss: v.loss, epoch, weights: snapshot() };
      this.sinceBest = 0;
      return false;
    }
    if (++this.sinceBest < this.patience) return false;
    this.onProgress?.({ type: 'early-stop', epoch, bestEpoch: best.epoch, bestValidPrAuc: best.prAuc });
    return true;
  }
}
