// Training loop of LEADER(S): Adam (fused, see adam.ts), seeded init and shuffling, early stopping on validation PR-AUC.
import * as tf from '@tensorflow/tfjs-core';
import type { DatasetRecord } from '../../dataset/types.ts';
import type { FitProgress, FitReport } from '../../eval/method.ts';
import { meanAveragePrecision } from '../../eval/metrics.ts';
import { SeededRandom } from '../../eval/random.ts';
import type { StudentConfig } from './config.ts';
import { Encoder } from './encode.ts';
import { FusedAdam } from './adam.ts';
import { alignmentLoss, bceWithLogits, mse } from './loss.ts';
import { installReductionGradients } from './reduction-gradients.ts';
import { batchTensors, disposeBatch, StudentModel } from './model.ts';
import type { TeacherFeatures } from './teacher-features.ts';
import { buildVocabularies, VocabIndex, type Vocabularies } from './vocab.ts';
import { initWeights, isWideParameter, parameterSpecs, type WeightMap } from './weights.ts';

export interface TrainOptions {
  config: StudentConfig;
  /** Weight of the distillation loss; > 0 needs teacher features for every training record. */
  alpha: number;
  /** Weight of the profile alignment loss. */
  beta: number;
  epochs: number;
  /** Epochs without a better validation PR-AUC before stopping. */
  patience: number;
  batchSize: number;
  learningRate: number;
  /**
   * Adam learning rate of the wide tables (config.wide 'linear'); default: learningRate. Sparse linear weights need
   * larger steps than the deep parameters to reach logistic regression's scale within the epoch budget.
   */
  wideLearningRate?: number;
  /** L2 penalty on the wide tables: wideL2 * (sum of their squared weights) is added to the loss; default 0. */
  wideL2?: number;
  /** Dropout on the hidden units of the wide 'hidden' branch while training (inverted; none at inference); default 0. */
  wideDropout?: number;
  seed: number;
  /** Fixed label vocabulary (evaluation passes its own); default: labels of the training records. */
  labels?: readonly string[];
  minCount?: number;
  teacher?: TeacherFeatures;
  onProgress?: (event: FitProgress) => void;
}

export const defaultTrainOptions = {
  alpha: 0,
  beta: 0.005,
  epochs: 50,
  patience: 10,
  batchSize: 64,
  learningRate: 5e-4,
  seed: 42,
} as const;

export interface TrainReport extends FitReport {
  bestValidPrAuc?: number;
  epochsRun: number;
  trainSamples: number;
  validationSamples: number;
  /** Median training throughput over epochs. */
  samplesPerSecond: number;
}

export interface TrainedStudent {
  config: StudentConfig;
  vocab: Vocabularies;
  /** Inference weights (the distillation projection is left out). */
  weights: WeightMap;
  report: TrainReport;
}

export class TrainingError extends Error {
  override name = 'TrainingError';
}

/** Rows of teacher features for a batch, in record order. */
function teacherBatch(teacher: TeacherFeatures, records: readonly DatasetRecord[]): Float32Array {
  const out = new Float32Array(records.length * teacher.dim);
  records.forEach((r, i) => out.set(teacher.get(r.patientId, r.encounterId)!, i * teacher.dim));
  return out;
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Live student: parameters as tf variables, plus the encoder for its vocabularies. */
export class StudentSession {
  readonly encoder: Encoder;
  readonly model: StudentModel;
  readonly variables: Map<string, tf.Variable>;

  constructor(
    readonly config: StudentConfig,
    readonly vocab: Vocabularies,
    weights: WeightMap,
  ) {
    this.encoder = new Encoder(new VocabIndex(vocab), config);
    // Unnamed variables: tfjs names must be unique engine-wide and several sessions may live at once.
    this.variables = new Map(
      [...weights].map(([name, w]) => {
        const init = tf.tensor(w.data, w.shape, 'float32');
        const v = tf.variable(init, true);
        init.dispose();
        return [name, v];
      }),
    );
    this.model = new StudentModel(config, this.variables);
  }

  snapshot(include: (name: string) => boolean = () => true): WeightMap {
    const out: WeightMap = new Map();
    for (const [name, v] of this.variables) if (include(name)) out.set(name, { shape: [...v.shape], data: (v.dataSync() as Float32Array).slice() });
    return out;
  }

  restore(weights: WeightMap): void {
    for (const [name, w] of weights) {
      const t = tf.tensor(w.data, w.shape, 'float32');
      this.variables.get(name)?.assign(t);
      t.dispose();
    }
  }

  /** Probability rows, aligned with vocab.labels. */
  async predict(records: readonly DatasetRecord[], batchSize = 256): Promise<Float32Array[]> {
    const labels = this.vocab.labels.length;
    const out: Float32Array[] = [];
    for (let i = 0; i < records.length; i += batchSize) {
      const chunk = records.slice(i, i + batchSize);
      const x = batchTensors(this.encoder.encode(chunk));
      const probs = await this.model.predict(x);
      disposeBatch(x);
      for (let j = 0; j < chunk.length; j++) out.push(probs.slice(j * labels, (j + 1) * labels));
    }
    return out;
  }

  async validationPrAuc(records: readonly DatasetRecord[]): Promise<number> {
    const scores = await this.predict(records);
    const index = this.encoder.vocab.medications;
    const truths = records.map((r) => new Set(r.labels.map((l) => index.get(l)).filter((x): x is number => x !== undefined).map((x) => x - 2)));
    return meanAveragePrecision(scores, truths);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
  }
}

export async function trainStudent(
  train: readonly DatasetRecord[],
  validation: readonly DatasetRecord[],
  options: TrainOptions,
): Promise<TrainedStudent> {
  const started = performance.now();
  if (train.length === 0) throw new TrainingError('no training records');
  const { config, alpha, beta, teacher } = options;
  installReductionGradients();
  if (alpha > 0) {
    if (!teacher) throw new TrainingError('alpha > 0 (distillation) needs teacher features (--teacher-features)');
    const missing = train.filter((r) => !teacher.get(r.patientId, r.encounterId));
    if (missing.length > 0)
      throw new TrainingError(
        `teacher features lack ${missing.length} of ${train.length} training records (first: patient ${missing[0]!.patientId}, encounter ${missing[0]!.encounterId})`,
      );
  }
  const vocab = buildVocabularies(train, { labels: options.labels, minCount: options.minCount });
  const index = new VocabIndex(vocab);
  const specs = parameterSpecs(config, index.sizes, vocab.labels.length, alpha > 0 ? teacher!.dim : undefined);
  const session = new StudentSession(config, vocab, initWeights(specs, options.seed));
  const { encoder, model } = session;
  // Two Adams stepping together: per-variable Adam is independent, so with equal rates this is one Adam.
  const optimizer = new FusedAdam({ learningRate: options.learningRate });
  const wideOptimizer = new FusedAdam({ learningRate: options.wideLearningRate ?? options.learningRate });
  const trainable = [...session.variables.values()];
  const deepVariables = [...session.variables].filter(([name]) => !isWideParameter(name)).map(([, v]) => v);
  const wideVariables = [...session.variables].filter(([name]) => isWideParameter(name)).map(([, v]) => v);
  const wideL2 = options.wideL2 ?? 0;
  const wideDropout = options.wideDropout ?? 0;
  if (!(wideDropout >= 0 && wideDropout < 1)) throw new RangeError(`wideDropout must be in [0, 1), got ${wideDropout}`);
  if (wideDropout > 0 && model.config.wide !== 'hidden') throw new RangeError("wideDropout needs config.wide 'hidden'");
  let step = 0;
  const shuffler = new SeededRandom(options.seed + 1);
  const progress = options.onProgress ?? (() => {});
  const curve: NonNullable<FitReport['curve']> = [];
  const speeds: number[] = [];
  let best: { epoch: number; prAuc: number; weights: WeightMap } | undefined;
  let epoch = 0;
  const order = train.map((_, i) => i);
  const isInference = (name: string) => !name.startsWith('distill.');

  try {
    for (epoch = 1; epoch <= options.epochs; epoch++) {
      shuffler.shuffle(order);
      const t0 = performance.now();
      let lossSum = 0;
      for (let i = 0; i < order.length; i += options.batchSize) {
        const records = order.slice(i, i + options.batchSize).map((k) => train[k]!);
        const x = batchTensors(encoder.encode(records));
        const y = tf.tensor2d(encoder.targets(records), [records.length, vocab.labels.length]);
        const useAlign = beta > 0 && records.length > 1;
        const cur = useAlign ? encoder.currentMedications(records) : undefined;
        const curT = cur ? tf.tensor(cur.data, cur.shape, 'int32') : undefined;
        const hT = alpha > 0 ? tf.tensor2d(teacherBatch(teacher!, records), [records.length, teacher!.dim]) : undefined;
        const { value: cost, grads } = tf.variableGrads(() => {
          const out = model.forward(x, wideDropout > 0 ? { wideDropout, seed: options.seed * 1_000_003 + step } : undefined);
          let loss = bceWithLogits(out.logits, y);
          if (curT) loss = tf.add(loss, tf.mul(beta, alignmentLoss(out.prompt, model.currentMedicationVector(curT))));
          // Sparse codes seen a few times get large weights under the wide table's larger steps; the penalty pulls them back.
          if (wideL2 > 0) loss = tf.add(loss, tf.mul(wideL2, tf.addN(wideVariables.map((v) => tf.sum(tf.square(v))))));
          if (hT) {
            const proj = tf.add(tf.matMul(out.z, session.variables.get('distill.w')!), session.variables.get('distill.b')!);
            loss = tf.add(loss, tf.mul(alpha, mse(proj, hT)));
          }
          return loss as tf.Scalar;
        }, trainable);
        step++;
        optimizer.apply(deepVariables, grads);
        wideOptimizer.apply(wideVariables, grads);
        lossSum += (cost.dataSync()[0] ?? Number.NaN) * records.length;
        tf.dispose([cost, ...Object.values(grads), y, ...(curT ? [curT] : []), ...(hT ? [hT] : [])]);
        disposeBatch(x);
      }
      const seconds = (performance.now() - t0) / 1000;
      const samplesPerSecond = train.length / seconds;
      speeds.push(samplesPerSecond);
      const trainLoss = lossSum / train.length;
      if (!Number.isFinite(trainLoss)) throw new TrainingError(`training loss became ${trainLoss} at epoch ${epoch}`);
      const validPrAuc = validation.length > 0 ? await session.validationPrAuc(validation) : undefined;
      curve.push({ epoch, trainLoss, ...(validPrAuc !== undefined ? { validPrAuc } : {}) });
      progress({ type: 'epoch', epoch, epochs: options.epochs, trainLoss, ...(validPrAuc !== undefined ? { validPrAuc } : {}), samplesPerSecond });
      if (validPrAuc === undefined || Number.isNaN(validPrAuc)) continue;
      if (!best || validPrAuc > best.prAuc) best = { epoch, prAuc: validPrAuc, weights: session.snapshot(isInference) };
      else if (epoch - best.epoch >= options.patience) {
        progress({ type: 'early-stop', epoch, bestEpoch: best.epoch, bestValidPrAuc: best.prAuc });
        break;
      }
    }
    const weights = best ? best.weights : session.snapshot(isInference);
    return {
      config,
      vocab,
      weights,
      report: {
        curve,
        ...(best ? { bestEpoch: best.epoch, bestValidPrAuc: best.prAuc } : {}),
        seconds: (performance.now() - started) / 1000,
        epochsRun: Math.min(epoch, options.epochs),
        trainSamples: train.length,
        validationSamples: validation.length,
        samplesPerSecond: median(speeds),
      },
    };
  } finally {
    optimizer.dispose();
    wideOptimizer.dispose();
    session.dispose();
  }
}
