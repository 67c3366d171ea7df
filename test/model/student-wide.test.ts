// The wide term (config.wide 'linear', and the 'hidden' branch over the same features) reads the right inputs: a diagnosis weight acts only when the *current*
// encounter has the diagnosis, a last-medication weight only for the encounter just before, an any-medication
// weight for every earlier encounter; all-zero tables leave the deep model's output unchanged.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { DatasetRecord, HistoryVisit } from '../../src/dataset/types.ts';
import { buildModelFiles } from '../../src/model/student/artifact.ts';
import type { StudentConfig } from '../../src/model/student/config.ts';
import { Encoder } from '../../src/model/student/encode.ts';
import { batchTensors, disposeBatch, StudentModel } from '../../src/model/student/model.ts';
import { buildVocabularies, FIRST, VocabIndex } from '../../src/model/student/vocab.ts';
import { initWeights, isWideParameter, parameterSpecs, WIDE_TABLES, type WeightMap } from '../../src/model/student/weights.ts';
import { StudentRuntime } from '../../src/model/runtime/session.ts';
import { initBackend } from '../../src/model/tf/backend.ts';
import { trainStudent } from '../../src/model/student/train.ts';
import { generateRecords, tinyConfig } from './helpers.ts';

before(async () => {
  await initBackend('wasm');
});

const training = { datasetFingerprint: 'test', records: 0, patients: 0, seed: 1, alpha: 0, beta: 0, epochs: 0, batchSize: 1, learningRate: 1e-3, curve: [] };
const config: StudentConfig = { ...tinyConfig, recency: 'position', wide: 'linear' };
const records = generateRecords({ patients: 30, seed: 17 });
const vocab = buildVocabularies(records);
const index = new VocabIndex(vocab);
const labels = vocab.labels.length;

/** Probabilities from onnxruntime (what is served) and from tfjs, for one batch. */
async function probabilities(cfg: StudentConfig, weights: WeightMap, batch: DatasetRecord[], pad: 'batch' | 'full' = 'batch') {
  const runtime = await StudentRuntime.fromFiles(buildModelFiles({ config: cfg, vocab, weights }, { training }), { provider: 'cpu' });
  const ort = (await runtime.runRaw(batch, pad)).probabilities.slice();
  await runtime.close();
  const model = new StudentModel(cfg, new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)])));
  const x = batchTensors(new Encoder(index, cfg).encode(batch, { pad }));
  const tfjs = (await tf.sigmoid(model.forward(x).logits).data()) as Float32Array;
  disposeBatch(x);
  return { ort, tfjs };
}

/** Same weights with one wide-table cell set. */
function withCell(weights: WeightMap, table: string, row: number, label: number, value: number): WeightMap {
  const out: WeightMap = new Map([...weights].map(([k, w]) => [k, { shape: [...w.shape], data: w.data.slice() }]));
  const t = out.get(table)!;
  t.data[row * labels + label] = value;
  return out;
}

/** Per record of the batch: the largest change of any other label, and the change of `label`. */
function changes(a: Float32Array, b: Float32Array, batch: number, label: number): Array<{ target: number; others: number }> {
  return Array.from({ length: batch }, (_, r) => {
    let others = 0;
    for (let l = 0; l < labels; l++) if (l !== label) others = Math.max(others, Math.abs(b[r * labels + l]! - a[r * labels + l]!));
    return { target: b[r * labels + label]! - a[r * labels + label]!, others };
  });
}

const visit = (i: number, diagnoses: string[], medications: string[]): HistoryVisit => ({
  encounterId: `x-e${i}`,
  start: new Date(Date.UTC(2021, 0, 1 + i)).toISOString(),
  diagnoses,
  procedures: [],
  medications,
});
const record = (id: string, history: HistoryVisit[], diagnoses: string[]): DatasetRecord => ({
  patientId: id,
  encounterId: `${id}-now`,
  visitIndex: history.length,
  patientVisits: history.length + 1,
  start: '2022-01-01T00:00:00.000Z',
  profile: { sex: 'female', age_band: '40' },
  history,
  diagnoses,
  procedures: ['pcs:P1'],
  labels: [],
});

const dx = 'icd10:D5';
const other = 'icd10:D7';
const med = vocab.labels[3]!;
const otherMed = vocab.labels[4]!;
const target = 2;
// Batch: the diagnosis now; the diagnosis only one encounter back; the medication at the last earlier encounter;
// the medication only two encounters back; a first encounter; nothing.
const batch = [
  record('now', [visit(0, [other], [otherMed])], [dx, other]),
  record('dx-before', [visit(0, [other], [otherMed]), visit(1, [dx], [otherMed])], [other]),
  record('med-last', [visit(0, [other], [otherMed]), visit(1, [other], [med, otherMed])], [other]),
  record('med-older', [visit(0, [other], [med]), visit(1, [other], [otherMed])], [other]),
  record('first', [], [other]),
  record('nothing', [visit(0, [other], [otherMed])], [other]),
];

test('wide tables at zero: the output is the deep model\'s (training starts from the deep model)', async () => {
  const weights = initWeights(parameterSpecs(config, index.sizes, labels), 4);
  assert.ok([...weights].filter(([k]) => isWideParameter(k)).every(([, w]) => w.data.every((v) => v === 0)));
  const deep = new Map([...weights].filter(([k]) => !isWideParameter(k)));
  const a = await probabilities(config, weights, batch);
  const b = await probabilities({ ...config, wide: 'none' }, deep, batch);
  for (let i = 0; i < a.ort.length; i++) assert.ok(Math.abs(a.ort[i]! - b.ort[i]!) < 1e-6, `index ${i}`);
});

test('a diagnosis weight raises its label only where the current encounter has the diagnosis', async () => {
  const base = initWeights(parameterSpecs(config, index.sizes, labels), 4);
  const raised = withCell(base, WIDE_TABLES.diagnosis, index.diagnoses.get(dx)!, target, 4);
  for (const pad of ['batch', 'full'] as const) {
    const a = await probabilities(config, base, batch, pad);
    const b = await probabilities(config, raised, batch, pad);
    for (const side of ['ort', 'tfjs'] as const) {
      const c = changes(a[side], b[side], batch.length, target);
      assert.ok(c[0]!.target > 0.05, `${side} ${pad}: current diagnosis must raise the label (${c[0]!.target})`);
      c.forEach((x, r) => assert.ok(x.others < 1e-6, `${side} ${pad} ${batch[r]!.patientId}: other labels moved ${x.others}`));
      for (let r = 1; r < batch.length; r++) assert.ok(Math.abs(c[r]!.target) < 1e-6, `${side} ${pad} ${batch[r]!.patientId}: moved ${c[r]!.target}`);
    }
  }
});

test('last-medication weights act on the encounter just before only; any-medication weights on every earlier one', async () => {
  const base = initWeights(parameterSpecs(config, index.sizes, labels), 6);
  const row = index.medications.get(med)!;
  assert.ok(row >= FIRST);
  const expect = async (table: string, raisedFor: string[]) => {
    for (const pad of ['batch', 'full'] as const) {
      const a = await probabilities(config, base, batch, pad);
      const b = await probabilities(config, withCell(base, table, row, target, 4), batch, pad);
      for (const side of ['ort', 'tfjs'] as const) {
        changes(a[side], b[side], batch.length, target).forEach((x, r) => {
          const id = batch[r]!.patientId;
          assert.ok(x.others < 1e-6, `${table} ${side} ${pad} ${id}: other labels moved ${x.others}`);
          if (raisedFor.includes(id)) assert.ok(x.target > 0.05, `${table} ${side} ${pad} ${id}: must rise (${x.target})`);
          else assert.ok(Math.abs(x.target) < 1e-6, `${table} ${side} ${pad} ${id}: moved ${x.target}`);
        });
      }
    }
  };
  await expect(WIDE_TABLES.lastMedication, ['med-last']);
  await expect(WIDE_TABLES.anyMedication, ['med-last', 'med-older']);
});

test('padding rows of the set tables are masked: changing them changes nothing', async () => {
  const base = initWeights(parameterSpecs(config, index.sizes, labels), 8);
  let moved = base;
  for (const table of [WIDE_TABLES.diagnosis, WIDE_TABLES.procedure, WIDE_TABLES.lastMedication, WIDE_TABLES.anyMedication])
    for (let l = 0; l < labels; l++) moved = withCell(moved, table, 0, l, 3);
  for (const pad of ['batch', 'full'] as const) {
    const a = await probabilities(config, base, batch, pad);
    const b = await probabilities(config, moved, batch, pad);
    for (let i = 0; i < a.ort.length; i++) {
      assert.ok(Math.abs(a.ort[i]! - b.ort[i]!) < 1e-6, `ort ${pad} index ${i}`);
      assert.ok(Math.abs(a.tfjs[i]! - b.tfjs[i]!) < 1e-6, `tfjs ${pad} index ${i}`);
    }
  }
});

test('the wide tables have their own learning rate: a tiny one keeps them near zero while the deep part trains', async () => {
  const options = { config, alpha: 0, beta: 0, epochs: 1, patience: 1, batchSize: 16, learningRate: 1e-2, seed: 2 };
  const largest = (w: WeightMap, wide: boolean) =>
    Math.max(...[...w].filter(([k]) => isWideParameter(k) === wide).map(([, t]) => t.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  const frozen = await trainStudent(records, [], { ...options, wideLearningRate: 1e-9 });
  const same = await trainStudent(records, [], options);
  const faster = await trainStudent(records, [], { ...options, wideLearningRate: 1e-1 });
  assert.ok(largest(frozen.weights, true) < 1e-6, `frozen wide: ${largest(frozen.weights, true)}`);
  assert.ok(largest(same.weights, true) > 1e-3, `wide at the deep rate: ${largest(same.weights, true)}`);
  assert.ok(largest(faster.weights, true) > 5 * largest(same.weights, true), `wide at 10x: ${largest(faster.weights, true)}`);
});

test('the L2 penalty on the wide tables shrinks them; a penalty of 0 trains exactly as none', async () => {
  const options = { config, alpha: 0, beta: 0, epochs: 2, patience: 1, batchSize: 16, learningRate: 1e-2, wideLearningRate: 1e-1, seed: 2 };
  const norm = (w: WeightMap) => Math.sqrt([...w].filter(([k]) => isWideParameter(k)).reduce((s, [, t]) => s + t.data.reduce((a, v) => a + v * v, 0), 0));
  const free = await trainStudent(records, [], options);
  const penalised = await trainStudent(records, [], { ...options, wideL2: 1e-2 });
  assert.ok(norm(penalised.weights) < 0.5 * norm(free.weights), `wide norm ${norm(penalised.weights)} vs ${norm(free.weights)} without L2`);
  const zero = await trainStudent(records, [], { ...options, wideL2: 0 });
  for (const [k, w] of free.weights) assert.deepEqual(zero.weights.get(k)!.data, w.data, `wideL2 0 must equal no penalty (${k})`);
});

test("wide 'hidden': its ReLU layer reads a combination of inputs that no linear term can (both diagnoses now, not either)", async () => {
  const H = 4;
  const cfg: StudentConfig = { ...config, wide: 'hidden', wideHidden: H };
  const base = initWeights(parameterSpecs(cfg, index.sizes, labels), 9);
  // Start from a silent branch: tables, bias and output weights at zero (the init draws random tables).
  for (const [name, w] of base) if (isWideParameter(name)) w.data.fill(0);
  const combined: WeightMap = new Map([...base].map(([k, w]) => [k, { shape: [...w.shape], data: w.data.slice() }]));
  combined.get(WIDE_TABLES.diagnosis)!.data[index.diagnoses.get(dx)! * H] = 1;
  combined.get(WIDE_TABLES.diagnosis)!.data[index.diagnoses.get(other)! * H] = 1;
  combined.get(WIDE_TABLES.hiddenBias)!.data[0] = -1;
  combined.get(WIDE_TABLES.output)!.data[0 * labels + target] = 4;
  // 'neither' catches a missing ReLU: its pre-activation is -1, which a linear branch would pass on.
  const cases = [...batch, record('dx-alone', [visit(0, [other], [otherMed])], [dx]), record('neither', [visit(0, [other], [otherMed])], [])];
  for (const pad of ['batch', 'full'] as const) {
    const a = await probabilities(cfg, base, cases, pad);
    const b = await probabilities(cfg, combined, cases, pad);
    for (const side of ['ort', 'tfjs'] as const) {
      changes(a[side], b[side], cases.length, target).forEach((x, r) => {
        const id = cases[r]!.patientId;
        assert.ok(x.others < 1e-6, `${side} ${pad} ${id}: other labels moved ${x.others}`);
        if (id === 'now') assert.ok(x.target > 0.05, `${side} ${pad}: both diagnoses now must raise the label (${x.target})`);
        else assert.ok(Math.abs(x.target) < 1e-6, `${side} ${pad} ${id}: moved ${x.target}`);
      });
    }
  }
});

test("wide 'hidden' dropout: seeded (same seed, same weights), it changes training, and it needs the hidden branch", async () => {
  const cfg: StudentConfig = { ...config, wide: 'hidden', wideHidden: 8 };
  const options = { config: cfg, alpha: 0, beta: 0, epochs: 1, patience: 1, batchSize: 16, learningRate: 1e-2, seed: 5 };
  const a = await trainStudent(records, [], { ...options, wideDropout: 0.5 });
  const b = await trainStudent(records, [], { ...options, wideDropout: 0.5 });
  const plain = await trainStudent(records, [], options);
  const out = (w: WeightMap) => w.get(WIDE_TABLES.output)!.data;
  assert.deepEqual(out(a.weights), out(b.weights));
  assert.notDeepEqual(out(a.weights), out(plain.weights));
  await assert.rejects(trainStudent(records, [], { ...options, config, wideDropout: 0.5 }), /wideDropout needs config.wide 'hidden'/);
  await assert.rejects(trainStudent(records, [], { ...options, wideDropout: 1 }), /wideDropout must be in \[0, 1\)/);
});
