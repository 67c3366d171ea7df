// Baseline: one-vs-rest logistic regression over multi-hot record features (diagnoses, procedures,
// earlier medications, profile), trained with mini-batch Adam on plain typed arrays.
// Inputs are sparse (tens of active features out of thousands), so a batch only touches the weight
// rows of its active features: the update is "lazy" Adam (moments and L2 applied to touched rows only).
import type { DatasetRecord } from '../../dataset/types.ts';
import type { FitContext, FitReport, Recommender } from '../method.ts';
import { SeededRandom } from '../random.ts';
import { labelIndex } from './label-frequency.ts';
import { chooseThreshold } from '../threshold.ts';
import { bce, EpochTracker, scoreEncoded, sigmoid } from './early-stopping.ts';

export interface LogisticRegressionOptions {
  learningRate: number;
  /** L2 penalty on the weights (not the biases). */
  l2: number;
  /** Largest mini-batch; small training sets use smaller batches so that an epoch still has about 32 steps. */
  batchSize: number;
  maxEpochs: number;
  /** Epochs without a better validation PR-AUC before stopping. */
  patience: number;
  /** Features seen in fewer training records are dropped. */
  minCount: number;
  threshold: number;
  /** `validation`: after fitting, use the grid threshold with the best validation Jaccard (src/eval/threshold.ts). */
  thresholdFrom: 'fixed' | 'validation';
}

export const defaultLogisticRegressionOptions: LogisticRegressionOptions = {
  learningRate: 0.05,
  l2: 1e-5,
  batchSize: 256,
  maxEpochs: 50,
  patience: 4,
  minCount: 2,
  threshold: 0.5,
  thresholdFrom: 'fixed',
};

/** The multi-hot feature tokens of a record; kinds are prefixed so that equal codes never collide. */
export function recordFeatures(r: DatasetRecord): Set<string> {
  const out = new Set<string>();
  for (const t of r.diagnoses) out.add(`dx|${t}`);
  for (const t of r.procedures) out.add(`px|${t}`);
  for (const [k, v] of Object.entries(r.profile)) out.add(`profile|${k}=${v}`);
  const last = r.history[r.history.length - 1];
  if (!last) out.add('first-encounter');
  else for (const m of last.medications) out.add(`last-med|${m}`);
  for (const h of r.history) for (const m of h.medications) out.add(`earlier-med|${m}`);
  return out;
}


/** Records as feature and label indices (the other baselines over these features share it). */
export interface Encoded {
  features: Int32Array[];
  labels: Int32Array[];
}

/** The feature vocabulary: tokens seen in at least `minCount` training records, sorted, to indices. */
export function featureVocabulary(train: readonly DatasetRecord[], minCount: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of train) for (const t of recordFeatures(r)) counts.set(t, (counts.get(t) ?? 0) + 1);
  const kept = [...counts].filter(([, n]) => n >= minCount).map(([t]) => t).sort();
  return new Map(kept.map((t, i) => [t, i]));
}

/** A record's known feature indices; tokens outside the vocabulary are ignored. */
export function encodeFeatures(r: DatasetRecord, featureIndex: ReadonlyMap<string, number>): Int32Array {
  const f: number[] = [];
  for (const t of recordFeatures(r)) {
    const i = featureIndex.get(t);
    if (i !== undefined) f.push(i);
  }
  return Int32Array.from(f);
}

export function encodeRecords(
  records: readonly DatasetRecord[],
  featureIndex: ReadonlyMap<string, number>,
  labels: ReadonlyMap<string, number>,
): Encoded {
  const features: Int32Array[] = [];
  const ys: Int32Array[] = [];
  for (const r of records) {
    features.push(encodeFeatures(r, featureIndex));
    const y: number[] = [];
    for (const l of new Set(r.labels)) {
      const i = labels.get(l);
      if (i !== undefined) y.push(i);
    }
    ys.push(Int32Array.from(y));
  }
  return { features, labels: ys };
}

/** Each label's smoothed training log-odds: output biases start there so early epochs skip learning base rates. */
export function labelLogOdds(labels: readonly Int32Array[], nLabels: number): Float32Array<ArrayBuffer> {
  const bias = new Float32Array(nLabels);
  const pos = new Float64Array(nLabels);
  for (const y of labels) for (const j of y) pos[j] = (pos[j] as number) + 1;
  for (let j = 0; j < nLabels; j++) {
    const p = ((pos[j] as number) + 0.5) / (labels.length + 1);
    bias[j] = Math.log(p / (1 - p));
  }
  return bias;
}

export class LogisticRegressionRecommender implements Recommender {
  readonly name: string;
  threshold: number;
  private readonly options: LogisticRegressionOptions;
  private featureIndex = new Map<string, number>();
  private nLabels = 0;
  private weights = new Float32Array(0);
  private bias = new Float32Array(0);

  constructor(options: Partial<LogisticRegressionOptions> = {}, name = 'logreg') {
    this.options = { ...defaultLogisticRegressionOptions, ...options };
    this.threshold = this.options.threshold;
    this.name = name;
  }

  get featureCount(): number {
    return this.featureIndex.size;
  }

  private encode(records: readonly DatasetRecord[], labels: Map<string, number>): Encoded {
    return encodeRecords(records, this.featureIndex, labels);
  }

  private logits(features: Int32Array, out: Float64Array): void {
    const L = this.nLabels;
    const W = this.weights;
    const b = this.bias;
    for (let j = 0; j < L; j++) out[j] = b[j] as number;
    for (let k = 0; k < features.length; k++) {
      const row = (features[k] as number) * L;
      for (let j = 0; j < L; j++) out[j] = (out[j] as number) + (W[row + j] as number);
    }
  }

  /** Validation PR-AUC, and validation loss to break PR-AUC ties (a saturated ranking can still calibrate). */
  private validate(data: Encoded): { prAuc: number; loss: number } {
    return scoreEncoded(data, this.nLabels, (features, z) => this.logits(features, z));
  }

  async fit(train: readonly DatasetRecord[], validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const started = performance.now();
    const o = this.options;
    if (train.length === 0) throw new Error(`${this.name}: no training records`);
    this.featureIndex = featureVocabulary(train, o.minCount);
    const labels = labelIndex(ctx.labels);
    const L = (this.nLabels = ctx.labels.length);
    const F = this.featureIndex.size;
    const rand = new SeededRandom(ctx.seed);

    const data = this.encode(train, labels);
    const valid = this.encode(validation, labels);
    this.weights = new Float32Array(F * L);
    // Biases start at the label log-odds so that early epochs are not spent learning base rates.
    this.bias = labelLogOdds(data.labels, L);

    const mW = new Float32Array(F * L);
    const vW = new Float32Array(F * L);
    const mB = new Float64Array(L);
    const vB = new Float64Array(L);
    const gW = new Float32Array(F * L);
    const gB = new Float64Array(L);
    const touched = new Uint8Array(F);
    const target = new Uint8Array(L);
    const beta1 = 0.9;
    const beta2 = 0.999;
    const eps = 1e-8;
    let step = 0;

    const z = new Float64Array(L);
    const order = Array.from({ length: data.features.length }, (_, i) => i);
    const batchSize = Math.max(4, Math.min(o.batchSize, Math.floor(order.length / 32)));
    const tracker = new EpochTracker({ weights: this.weights.slice(), bias: this.bias.slice() }, o.maxEpochs, o.patience, ctx.onProgress);

    for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
      rand.shuffle(order);
      let lossSum = 0;
      for (let start = 0; start < order.length; start += batchSize) {
        const batch = order.slice(start, start + batchSize);
        const rows: number[] = [];
        gB.fill(0);
        for (const s of batch) {
          const feats = data.features[s] as Int32Array;
          const ys = data.labels[s] as Int32Array;
          for (const j of ys) target[j] = 1;
          this.logits(feats, z);
          for (let j = 0; j < L; j++) {
            const p = sigmoid(z[j] as number);
            const t = target[j] as number;
            lossSum += bce(p, t === 1);
            z[j] = p - t;
          }
          for (const j of ys) target[j] = 0;
          for (let k = 0; k < feats.length; k++) {
            const f = feats[k] as number;
            if (!touched[f]) {
              touched[f] = 1;
              rows.push(f);
            }
            const row = f * L;
            for (let j = 0; j < L; j++) gW[row + j] = (gW[row + j] as number) + (z[j] as number);
          }
          for (let j = 0; j < L; j++) gB[j] = (gB[j] as number) + (z[j] as number);
        }
        step++;
        const scale = 1 / batch.length;
        const lr = (o.learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
        for (const f of rows) {
          const row = f * L;
          for (let j = 0; j < L; j++) {
            const k = row + j;
            const w = this.weights[k] as number;
            const g = (gW[k] as number) * scale + o.l2 * w;
            const m = (mW[k] = beta1 * (mW[k] as number) + (1 - beta1) * g);
            const v = (vW[k] = beta2 * (vW[k] as number) + (1 - beta2) * g * g);
            this.weights[k] = w - (lr * m) / (Math.sqrt(v) + eps);
            gW[k] = 0;
          }
          touched[f] = 0;
        }
        for (let j = 0; j < L; j++) {
          const g = (gB[j] as number) * scale;
          mB[j] = beta1 * (mB[j] as number) + (1 - beta1) * g;
          vB[j] = beta2 * (vB[j] as number) + (1 - beta2) * g * g;
          this.bias[j] = (this.bias[j] as number) - (lr * (mB[j] as number)) / (Math.sqrt(vB[j] as number) + eps);
        }
      }
      const trainLoss = lossSum / (order.length * L);
      const v = valid.features.length > 0 ? this.validate(valid) : undefined;
      if (tracker.epochEnd(epoch, trainLoss, v, () => ({ weights: this.weights.slice(), bias: this.bias.slice() }))) break;
    }
    const { curve, best } = tracker;
    let bestEpoch: number | undefined;
    if (valid.features.length > 0) {
      this.weights = best.weights.weights;
      this.bias = best.weights.bias;
      bestEpoch = best.epoch;
      if (o.thresholdFrom === 'validation') {
        const scores = await this.predict(validation);
        this.threshold = chooseThreshold(scores, valid.labels.map((y) => new Set(y)), o.threshold).threshold;
      }
    }
    return { curve, ...(bestEpoch === undefined ? {} : { bestEpoch }), seconds: (performance.now() - started) / 1000 };
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    if (this.nLabels === 0) throw new Error(`${this.name}: predict before fit`);
    const z = new Float64Array(this.nLabels);
    return records.map((r) => {
      this.logits(encodeFeatures(r, this.featureIndex), z);
      const out = new Float32Array(this.nLabels);
      for (let j = 0; j < this.nLabels; j++) out[j] = sigmoid(z[j] as number);
      return out;
    });
  }
}
