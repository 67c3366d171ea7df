// Golden test: the exported ONNX graph on onnxruntime-node and the tfjs student agree to 1e-5.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { buildModelFiles } from '../../src/model/student/artifact.ts';
import type { StudentConfig } from '../../src/model/student/config.ts';
import { Encoder } from '../../src/model/student/encode.ts';
import { batchTensors, disposeBatch, StudentModel } from '../../src/model/student/model.ts';
import { trainStudent } from '../../src/model/student/train.ts';
import { buildVocabularies, VocabIndex, type Vocabularies } from '../../src/model/student/vocab.ts';
import { initWeights, isWideParameter, parameterSpecs, type WeightMap } from '../../src/model/student/weights.ts';
import { SeededRandom } from '../../src/eval/random.ts';
import { StudentRuntime } from '../../src/model/runtime/session.ts';
import { initBackend } from '../../src/model/tf/backend.ts';
import { generateRecords, tinyConfig } from './helpers.ts';

before(async () => {
  await initBackend('wasm');
});

const training = { datasetFingerprint: 'test', records: 0, patients: 0, seed: 1, alpha: 0, beta: 0, epochs: 0, batchSize: 1, learningRate: 1e-3, curve: [] };

async function compare(config: StudentConfig, vocab: Vocabularies, weights: WeightMap, records: DatasetRecord[], pad: 'batch' | 'full'): Promise<number> {
  const model = new StudentModel(config, new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)])));
  const enc = new Encoder(new VocabIndex(vocab), config);
  const x = batchTensors(enc.encode(records, { pad }));
  const out = model.forward(x);
  const probs = (await tf.sigmoid(out.logits).data()) as Float32Array;
  const z = (await out.z.data()) as Float32Array;
  disposeBatch(x);
  const runtime = await StudentRuntime.fromFiles(buildModelFiles({ config, vocab, weights }, { training }), { provider: 'cpu' });
  const ort = await runtime.runRaw(records, pad);
  await runtime.close();
  assert.equal(ort.probabilities.length, records.length * vocab.labels.length);
  assert.equal(ort.feature.length, records.length * config.hidden);
  let maxDiff = 0;
  for (let i = 0; i < probs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(probs[i]! - ort.probabilities[i]!));
  for (let i = 0; i < z.length; i++) maxDiff = Math.max(maxDiff, Math.abs(z[i]! - ort.feature[i]!));
  return maxDiff;
}

const records = generateRecords({ patients: 30, seed: 17 });
const firstVisit = records.find((r) => r.history.length === 0)!;
const noProcedures: DatasetRecord = { ...records.find((r) => r.history.length > 1)!, procedures: [] };
const onlyUnknown: DatasetRecord = { ...firstVisit, diagnoses: ['icd10:NOPE'], procedures: [], profile: {} };
const mixed = [firstVisit, ...records.slice(0, 10), noProcedures, onlyUnknown];

/** The wide tables start at zero; fill them (padding rows included, which must stay masked) with random values. */
function randomWide(weights: WeightMap, seed: number): WeightMap {
  const rng = new SeededRandom(seed);
  for (const [name, w] of weights) if (isWideParameter(name)) for (let i = 0; i < w.data.length; i++) w.data[i] = rng.normal();
  return weights;
}

test('random weights: onnxruntime and tfjs agree to 1e-5 (batch 1, batch > 1, empty history, full padding)', async () => {
  const vocab = buildVocabularies(records);
  const sizes = new VocabIndex(vocab).sizes;
  for (const [seed, config] of [
    [1, tinyConfig],
    [2, { ...tinyConfig, heads: 4, maxVisits: 2 }],
    [3, { ...tinyConfig, recency: 'position' }],
    [4, { ...tinyConfig, heads: 4, maxVisits: 1, recency: 'position' }],
    [5, { ...tinyConfig, wide: 'linear' }],
    [6, { ...tinyConfig, recency: 'position', wide: 'linear' }],
    [7, { ...tinyConfig, heads: 4, maxVisits: 1, recency: 'position', wide: 'linear' }],
    [8, { ...tinyConfig, maxVisits: 2, wide: 'linear' }],
    [9, { ...tinyConfig, recency: 'position', wide: 'hidden', wideHidden: 12 }],
    [10, { ...tinyConfig, heads: 4, maxVisits: 1, wide: 'hidden', wideHidden: 5 }],
  ] as const) {
    const weights = randomWide(initWeights(parameterSpecs(config, sizes, vocab.labels.length), seed), seed);
    if (config.wide !== 'none') assert.ok([...weights.keys()].some(isWideParameter), 'wide tables expected');
    for (const batch of [[firstVisit], [records[5]!], mixed]) {
      for (const pad of ['batch', 'full'] as const) {
        const diff = await compare(config, vocab, weights, batch, pad);
        assert.ok(diff < 1e-5, `seed ${seed}, batch ${batch.length}, ${pad}: max diff ${diff}`);
      }
    }
  }
});

test('trained weights: onnxruntime and tfjs agree to 1e-5 (recency none and position, wide none, linear and hidden)', async () => {
  for (const [recency, wide] of [
    ['none', 'none'],
    ['position', 'none'],
    ['position', 'linear'],
    ['position', 'hidden'],
  ] as const) {
    const config = { ...tinyConfig, recency, wide, ...(wide === 'hidden' ? { wideHidden: 16 } : {}) };
    const trained = await trainStudent(records, [], { config, alpha: 0, beta: 0.01, epochs: 2, patience: 1, batchSize: 16, learningRate: 1e-2, seed: 3 });
    // Training must have moved the wide tables off their zero start, or this would not test them.
    if (wide === 'linear') assert.ok(trained.weights.get('wide.diagnosis')!.data.some((v) => v !== 0));
    if (wide === 'hidden') assert.ok(trained.weights.get('wide.out')!.data.some((v) => v !== 0), 'the hidden branch output left zero');
    for (const batch of [[firstVisit], mixed]) {
      for (const pad of ['batch', 'full'] as const) {
        const diff = await compare(trained.config, trained.vocab, trained.weights, batch, pad);
        assert.ok(diff < 1e-5, `${recency}/${wide}, batch ${batch.length}, ${pad}: max diff ${diff}`);
      }
    }
  }
});

test('recency position: the encounter order changes the output, and batch and full padding give the same probabilities', async () => {
  const vocab = buildVocabularies(records);
  const sizes = new VocabIndex(vocab).sizes;
  const config: StudentConfig = { ...tinyConfig, recency: 'position' };
  const weights = initWeights(parameterSpecs(config, sizes, vocab.labels.length), 5);
  const long = records.find((r) => r.history.length >= 2)!;
  const swapped: DatasetRecord = { ...long, history: [...long.history].reverse() };
  const run = async (cfg: StudentConfig, w: WeightMap, batch: DatasetRecord[], pad: 'batch' | 'full') => {
    const runtime = await StudentRuntime.fromFiles(buildModelFiles({ config: cfg, vocab, weights: w }, { training }), { provider: 'cpu' });
    try {
      return (await runtime.runRaw(batch, pad)).probabilities;
    } finally {
      await runtime.close();
    }
  };
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
  assert.ok(maxDiff(await run(config, weights, [long], 'batch'), await run(config, weights, [swapped], 'batch')) > 1e-4, 'order must matter with positions');
  // Without positions (same other weights) the model is order-free, as in the paper.
  const plain = new Map([...weights].filter(([k]) => k !== 'pos.visit'));
  assert.ok(maxDiff(await run(tinyConfig, plain, [long], 'batch'), await run(tinyConfig, plain, [swapped], 'batch')) < 1e-6);
  // Right-aligned slots give each encounter the same distance whatever the padding.
  assert.ok(maxDiff(await run(config, weights, mixed, 'batch'), await run(config, weights, mixed, 'full')) < 1e-5);
});
