// Training loops of the teacher: causal-LM pre-training on the prompt corpus (from scratch) and the
// paper's classification fine-tuning (BCE over label logits). Shared machinery: a deterministic sample
// order, gradient accumulation, global-norm clipping, AdamW with linear decay, NaN detection, and
// checkpoints of the trainable state (atomic) from which a run resumes exactly where it stopped.
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import prand from 'pure-rand';
import { padBatch, type Decoder } from './decoder.ts';
import { AdamW, linearSchedule, stateKey } from './optimizer.ts';
import { SafetensorsFile, writeSafetensors, type FloatTensor } from './safetensors.ts';

export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}

export interface LmExample {
  ids: number[];
}

export interface ClassificationExample {
  ids: number[];
  /** Multi-hot target, one entry per label. */
  target: Float32Array;
}

export interface TrainOptions {
  /** Optimizer steps. */
  steps: number;
  /** Samples per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step (effective batch = batchSize * accumulation). */
  accumulation?: number;
  learningRate: number;
  warmupSteps?: number;
  weightDecay?: number;
  /** Global gradient-norm clip; 0 disables. */
  clipNorm?: number;
  seed?: number;
  /** Where the resumable state goes; resumes from it when it exists and `resume` is set. */
  statePath?: string;
  resume?: boolean;
  /** Save the state every N steps (and at the end) when statePath is set. */
  checkpointEvery?: number;
  padId: number;
  onStep?: (info: StepInfo) => void;
}

export interface StepInfo {
  step: number;
  steps: number;
  loss: number;
  learningRate: number;
  samples: number;
  seconds: number;
}

export interface TrainResult {
  steps: number;
  /** Mean loss of each optimizer step, from the first step of this process (a resumed run starts later). */
  losses: number[];
  resumedFrom: number;
  samplesPerSecond: number;
}

/** Sample order: one seeded permutation per epoch, so micro-batch g is the same in every run. */
class SampleOrder {
  private readonly perms = new Map<number, Uint32Array>();
  constructor(
    private readonly n: number,
    private readonly seed: number,
  ) {}

  batch(g: number, size: number): number[] {
    const out: number[] = [];
    for (let k = g * size; k < (g + 1) * size; k++) {
      const epoch = Math.floor(k / this.n);
      out.push(this.perm(epoch)[k % this.n]!);
    }
    return out;
  }

  private perm(epoch: number): Uint32Array {
    let p = this.perms.get(epoch);
    if (!p) {
      p = Uint32Array.from({ length: this.n }, (_, i) => i);
      let rng = prand.xoroshiro128plus(this.seed * 7907 + epoch);
      for (let i = this.n - 1; i > 0; i--) {
        const [j, next] = prand.uniformIntDistribution(0, i, rng);
        rng = next;
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      if (this.perms.size > 4) this.perms.clear();
      this.perms.set(epoch, p);
    }
    return p;
  }
}

/** Mean binary cross-entropy with logits: max(x,0) - x*y + log(1 + exp(-|x|)). */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))));
}

/** Causal-LM loss: each real token predicts the next real token; padding is ignored. */
function lmLoss(model: Decoder, seqs: number[][], padId: number, seed: number): tf.Scalar {
  const batch = padBatch(seqs, padId, 'right');
  const { batch: B, seqLen: T } = batch;
  const targets = new Int32Array(B * T);
  const weights = new Float32Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t + 1 < T; t++) {
      if (batch.mask[b * T + t] && batch.mask[b * T + t + 1]) {
        targets[b * T + t] = batch.ids[b * T + t + 1]!;
        weights[b * T + t] = 1;
      }
    }
  const count = weights.reduce((a, b) => a + b, 0);
  if (count === 0) throw new TrainingError('a pre-training batch has no token pairs (every prompt is a single token)');
  return tf.tidy(() => {
    const logits = model.lmLogits(batch, { training: true, seed });
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), model.config.vocabSize)), -1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(weights)))), count) as tf.Scalar;
  });
}

function classificationLoss(model: Decoder, examples: ClassificationExample[], padId: number, seed: number): tf.Scalar {
  const L = model.numLabels;
  const target = new Float32Array(examples.length * L);
  examples.forEach((e, i) => {
    if (e.target.length !== L) throw new TrainingError(`an example has ${e.target.length} targets, the head has ${L} labels`);
    target.set(e.target, i * L);
  });
  return tf.tidy(() => bceWithLogits(model.classify(padBatch(examples.map((e) => e.ids), padId, 'right'), { training: true, seed }), tf.tensor2d(target, [examples.length, L])));
}

export function pretrainLm(model: Decoder, corpus: LmExample[], options: TrainOptions): TrainResult {
  const seqs = corpus.map((c) => c.ids);
  const head = model.head;
  const vars = model.trainableVariables().filter((v) => v !== head);
  return runTraining(vars, 'pretrain', seqs.length, (idx, seed) => lmLoss(model, idx.map((i) => seqs[i]!), options.padId, seed), options);
}

export function finetuneClassifier(model: Decoder, examples: ClassificationExample[], options: TrainOptions): TrainResult {
  if (!model.head) throw new TrainingError('fine-tuning needs a classification head');
  return runTraining(model.trainableVariables(), 'finetune', examples.length, (idx, seed) => classificationLoss(model, idx.map((i) => examples[i]!), options.padId, seed), options);
}

/** Fingerprint of what must not change between a run and its resumption. */
function runFingerprint(phase: string, n: number, vars: tf.Variable[], o: TrainOptions): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([phase, n, o.steps, o.batchSize, o.accumulation ?? 1, o.learningRate, o.warmupSteps ?? 0, o.weightDecay ?? 0, o.clipNorm ?? 1, o.seed ?? 0]));
  for (const v of vars) h.update(`${stateKey(v)}:${v.shape.join('x')};`);
  return h.digest('hex').slice(0, 16);
}

function runTraining(
  vars: tf.Variable[],
  phase: 'pretrain' | 'finetune',
  n: number,
  loss: (indices: number[], seed: number) => tf.Scalar,
  o: TrainOptions,
): TrainResult {
  if (n === 0) throw new TrainingError(`${phase}: no training examples`);
  const accumulation = o.accumulation ?? 1;
  const seed = o.seed ?? 0;
  const clipNorm = o.clipNorm ?? 1;
  if (vars.length === 0) throw new TrainingError(`${phase}: nothing to train`);
  const order = new SampleOrder(n, seed);
  const optimizer = new AdamW({ weightDecay: o.weightDecay ?? 0 });
  const fingerprint = runFingerprint(phase, n, vars, o);
  let start = 0;
  if (o.statePath && o.resume && existsSync(o.statePath)) {
    start = loadState(o.statePath, fingerprint, vars, optimizer);
  }
  const losses: number[] = [];
  const t0 = performance.now();
  let samples = 0;
  try {
    for (let step = start; step < o.steps; step++) {
      const lr = linearSchedule(o.learningRate, step, o.steps, o.warmupSteps ?? 0);
      let acc: tf.Tensor[] | null = null;
      let stepLoss = 0;
      for (let micro = 0; micro < accumulation; micro++) {
        const g = step * accumulation + micro;
        const idx = order.batch(g, o.batchSize);
        const { value, grads } = tf.variableGrads(() => loss(idx, seed * 1_000_003 + g), vars);
        const lv = value.dataSync()[0]!;
        value.dispose();
        if (!Number.isFinite(lv)) {
          for (const t of Object.values(grads)) t.dispose();
          acc?.forEach((t) => t.dispose());
          throw new TrainingError(
            `${phase}: the loss became ${lv} at step ${step + 1} (micro-batch ${micro + 1}, learning rate ${lr.toExponential(2)}); ` +
              'lower the learning rate or check the inputs. The last good state is the previous checkpoint.',
          );
        }
        stepLoss += lv / accumulation;
        samples += idx.length;
        // A variable the loss does not reach (e.g. an unused adapter) gets a zero gradient.
        const list = vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
        if (!acc) acc = list;
        else {
          const prev: tf.Tensor[] = acc;
          acc = prev.map((a, i) => tf.add(a, list[i]!));
          prev.forEach((t) => t.dispose());
          list.forEach((t) => t.dispose());
        }
      }
      const finalGrads = tf.tidy(() => {
        const mean = acc!.map((a) => tf.div(a, accumulation));
        if (clipNorm <= 0) return mean;
        const norm = tf.sqrt(tf.addN(mean.map((t) => tf.sum(tf.square(t)))));
        const scale = tf.minimum(1, tf.div(clipNorm, tf.add(norm, 1e-6)));
        return mean.map((t) => tf.mul(t, scale));
      });
      acc!.forEach((t) => t.dispose());
      optimizer.apply(vars, finalGrads, lr);
      finalGrads.forEach((t) => t.dispose());
      losses.push(stepLoss);
      const done = step + 1;
      if (o.statePath && ((o.checkpointEvery && done % o.checkpointEvery === 0) || done === o.steps)) {
        saveState(o.statePath, fingerprint, done, vars, optimizer);
      }
      o.onStep?.({ step: done, steps: o.steps, loss: stepLoss, learningRate: lr, samples, seconds: (performance.now() - t0) / 1000 });
    }
  } finally {
    optimizer.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { steps: o.steps, losses, resumedFrom: start, samplesPerSecond: seconds > 0 ? samples / seconds : 0 };
}

function saveState(file: string, fingerprint: string, step: number, vars: tf.Variable[], optimizer: AdamW): void {
  const tensors: Record<string, FloatTensor> = optimizer.stateTensors();
  for (const v of vars) tensors[`var/${stateKey(v)}`] = { shape: [...v.shape], data: new Float32Array(v.dataSync() as Float32Array) };
  writeSafetensors(file, tensors, { metadata: { format: 'leader-teacher-train-state', fingerprint, step: String(step) } });
}

function loadState(file: string, fingerprint: string, vars: tf.Variable[], optimizer: AdamW): number {
  const f = SafetensorsFile.read(file);
  if (f.metadata.format !== 'leader-teacher-train-state') throw new TrainingError(`${file}: not a teacher training state`);
  if (f.metadata.fingerprint !== fingerprint) {
    throw new TrainingError(`${file}: saved by a run with other settings, data size or model shape; delete it or drop --resume`);
  }
  const step = Number(f.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new TrainingError(`${file}: bad step "${f.metadata.step}"`);
  for (const v of vars) {
    const name = `var/${stateKey(v)}`;
    if (!f.has(name)) throw new TrainingError(`${file}: tensor "${name}" is missing`);
    const t = f.tensor(name);
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
  optimizer.loadState(step, (n) => (f.has(n) ? f.tensor(n) : undefined), vars);
  return step;
}
