import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { splitByPatient } from '../../src/eval/splits.ts';
import { Encoder } from '../../src/model/student/encode.ts';
import { alignmentLoss } from '../../src/model/student/loss.ts';
import { batchTensors, disposeBatch, StudentModel } from '../../src/model/student/model.ts';
import { trainStudent } from '../../src/model/student/train.ts';
import { buildVocabularies, FIRST, VocabIndex } from '../../src/model/student/vocab.ts';
import { initWeights, parameterSpecs, type WeightMap } from '../../src/model/student/weights.ts';
import { initBackend } from '../../src/model/tf/backend.ts';
import { averagePrecision, meanDefined } from '../../src/eval/metrics.ts';
import { SeededRandom } from '../../src/eval/random.ts';
import { generateRecords, tinyConfig } from './helpers.ts';

before(async () => {
  // wasm is several times faster than cpu for these ops; initBackend falls back to cpu when wasm cannot start.
  await initBackend('wasm');
});

const records = generateRecords({ patients: 40, seed: 11 });
const vocab = buildVocabularies(records);
const index = new VocabIndex(vocab);

function modelFrom(weights: WeightMap): StudentModel {
  return new StudentModel(tinyConfig, new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)])));
}

test('forward shapes: logits [B, labels], z [B, hidden], prompt [B, d]', () => {
  const model = modelFrom(initWeights(parameterSpecs(tinyConfig, index.sizes, vocab.labels.length), 1));
  const enc = new Encoder(index, tinyConfig);
  const x = batchTensors(enc.encode(records.slice(0, 5)));
  const out = model.forward(x);
  assert.deepEqual(out.logits.shape, [5, vocab.labels.length]);
  assert.deepEqual(out.z.shape, [5, tinyConfig.hidden]);
  assert.deepEqual(out.prompt.shape, [5, tinyConfig.dim]);
  disposeBatch(x);
});

test('padding never changes the output (masks): batch-shrunk and fully padded inputs agree', async () => {
  const model = modelFrom(initWeights(parameterSpecs(tinyConfig, index.sizes, vocab.labels.length), 2));
  const enc = new Encoder(index, tinyConfig);
  const some = records.slice(0, 8);
  const a = batchTensors(enc.encode(some));
  const pa = await model.predict(a);
  const b = batchTensors(enc.encode(some, { pad: 'full' }));
  const pb = await model.predict(b);
  let maxDiff = 0;
  for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i]! - pb[i]!));
  assert.ok(maxDiff < 1e-5, `max diff ${maxDiff}`);
  // and a record alone gets what it gets inside a batch
  const single = batchTensors(enc.encode([some[3]!]));
  const ps = await model.predict(single);
  const L = vocab.labels.length;
  for (let j = 0; j < L; j++) assert.ok(Math.abs(ps[j]! - pa[3 * L + j]!) < 1e-5);
  [a, b, single].forEach(disposeBatch);
});

test('alignment loss reads the medication table at label rows, not the diagnosis table (defect 2)', () => {
  const weights = initWeights(parameterSpecs(tinyConfig, index.sizes, vocab.labels.length), 3);
  const enc = new Encoder(index, tinyConfig);
  const some = records.slice(0, 6);
  const x = batchTensors(enc.encode(some));
  const cur = enc.currentMedications(some);
  const loss = (w: WeightMap) => {
    const m = modelFrom(w);
    const curT = tf.tensor(cur.data, cur.shape, 'int32');
    const v = tf.tidy(() => alignmentLoss(m.forward(x).prompt, m.currentMedicationVector(curT)).dataSync()[0]!);
    curT.dispose();
    return v;
  };
  const base = loss(weights);
  const firstLabelRow = FIRST + vocab.labels.indexOf(some[0]!.labels[0]!);
  const bump = (name: string, row: number): WeightMap => {
    const copy: WeightMap = new Map([...weights].map(([k, w]) => [k, { shape: w.shape, data: w.data.slice() }]));
    const t = copy.get(name)!;
    for (let j = 0; j < tinyConfig.dim; j++) t.data[row * tinyConfig.dim + j]! += 1;
    return copy;
  };
  assert.notEqual(loss(bump('emb.medication', firstLabelRow)), base, 'the first label of a record moves the loss');
  // A medication row no record of the batch uses (as target or history) leaves the loss alone.
  const used = new Set<number>([...cur.data, ...enc.encode(some).medications.codes.data]);
  const unused = Array.from({ length: index.sizes.medications }, (_, i) => i).find((i) => i >= FIRST && !used.has(i));
  if (unused !== undefined) assert.equal(loss(bump('emb.medication', unused)), base);
  disposeBatch(x);
});

test('alignment loss is lower when prompts match their own medication encodings', () => {
  const rng = new SeededRandom(4);
  const a = tf.tensor2d(Array.from({ length: 4 * 8 }, () => rng.normal()), [4, 8]);
  const shuffled = tf.gather(a, [1, 2, 3, 0]);
  const matched = alignmentLoss(a, a).dataSync()[0]!;
  const mismatched = alignmentLoss(a, shuffled as tf.Tensor2D).dataSync()[0]!;
  assert.ok(matched < mismatched, `${matched} < ${mismatched}`);
});

const trainOptions = { config: tinyConfig, alpha: 0, beta: 0.005, epochs: 1, patience: 5, batchSize: 8, learningRate: 5e-3, seed: 9 };

test('same seed, same weights; another seed, other weights', async () => {
  const small = records.slice(0, 24);
  const a = await trainStudent(small, [], trainOptions);
  const b = await trainStudent(small, [], trainOptions);
  const c = await trainStudent(small, [], { ...trainOptions, seed: 10 });
  for (const [name, w] of a.weights) assert.deepEqual(w.data, b.weights.get(name)!.data, name);
  assert.notDeepEqual(a.weights.get('head2.w')!.data, c.weights.get('head2.w')!.data);
  assert.equal(a.weights.has('distill.w'), false);
});

test('a short training run beats a random ranking on validation PR-AUC, with early stopping and progress events', async () => {
  const data = generateRecords({ patients: 120, seed: 21, labels: 10, diagnoses: 20 });
  const split = splitByPatient(data, { train: 0.75, validation: 0.25, test: 0.01 }, 1);
  const events: string[] = [];
  const trained = await trainStudent(split.train, split.validation, {
    ...trainOptions,
    config: { ...tinyConfig, dim: 16 },
    epochs: 5,
    patience: 2,
    batchSize: 16,
    learningRate: 1e-2,
    onProgress: (e) => events.push(e.type),
  });
  const rng = new SeededRandom(1);
  const labels = trained.vocab.labels;
  const randomAp = meanDefined(
    split.validation.map((r) => averagePrecision(Float32Array.from(labels, () => rng.float()), new Set(r.labels.map((l) => labels.indexOf(l)).filter((i) => i >= 0)))),
  ).mean;
  const best = trained.report.bestValidPrAuc!;
  assert.ok(best > randomAp + 0.1, `validation PR-AUC ${best.toFixed(3)} vs random ${randomAp.toFixed(3)}`);
  assert.ok(events.includes('epoch'));
  assert.equal(trained.report.curve!.length, trained.report.epochsRun);
});

test('the replacement Sum and Mean gradients give the stock values', async () => {
  const { installReductionGradients } = await import('../../src/model/student/reduction-gradients.ts');
  installReductionGradients();
  const rng = new SeededRandom(3);
  const x = tf.tensor3d(Array.from({ length: 2 * 3 * 4 }, () => rng.normal()), [2, 3, 4]);
  const w = tf.tensor3d(Array.from({ length: 2 * 3 * 4 }, () => rng.normal()), [2, 3, 4]);
  // d/dx sum_k (sum_axis(x * w))_k * c = w * c broadcast back over the reduced axis
  for (const [axis, keep] of [[1, false], [-1, true], [[0, 2], false]] as const) {
    const sumGrad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(tf.mul(t, w), axis as number | number[], keep), 2)))(x);
    assert.deepEqual(Array.from(sumGrad.dataSync()).map((v) => v.toFixed(5)), Array.from(tf.mul(w, 2).dataSync()).map((v) => v.toFixed(5)));
    const n = ([] as number[]).concat(axis).reduce((a, ax) => a * x.shape[ax < 0 ? ax + 3 : ax]!, 1);
    const meanGrad = tf.grad((t: tf.Tensor) => tf.sum(tf.mean(tf.mul(t, w), axis as number | number[], keep)))(x);
    assert.deepEqual(Array.from(meanGrad.dataSync()).map((v) => v.toFixed(5)), Array.from(tf.div(w, n).dataSync()).map((v) => v.toFixed(5)));
  }
});
