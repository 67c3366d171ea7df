import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readTeacherFeatures, TeacherFeaturesError, writeTeacherFeatures } from '../../src/model/student/teacher-features.ts';
import { trainStudent, TrainingError } from '../../src/model/student/train.ts';
import { initBackend } from '../../src/model/tf/backend.ts';
import { SeededRandom } from '../../src/eval/random.ts';
import { generateRecords, tinyConfig } from './helpers.ts';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'leader-teacher-'));
  await initBackend('wasm');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const records = generateRecords({ patients: 12, seed: 2 });
const dim = 6;

async function writeFor(dir: string, recs = records): Promise<Float32Array> {
  const rng = new SeededRandom(1);
  const data = Float32Array.from({ length: recs.length * dim }, () => rng.normal());
  await writeTeacherFeatures(dir, { dim, rows: recs.map((r) => ({ patientId: r.patientId, encounterId: r.encounterId })), data, source: 'test' });
  return data;
}

test('round trip: float32 little-endian rows looked up by patient and encounter', async () => {
  const dir = path.join(tmp, 'ok');
  const data = await writeFor(dir);
  const f = await readTeacherFeatures(dir);
  assert.equal(f.dim, dim);
  const r = records[4]!;
  assert.deepEqual(f.get(r.patientId, r.encounterId), data.subarray(4 * dim, 5 * dim));
  assert.equal(f.get('nobody', 'nothing'), undefined);
  const bytes = await readFile(path.join(dir, 'features.f32'));
  assert.equal(bytes.length, records.length * dim * 4);
  assert.equal(bytes.readFloatLE(4), data[1]);
  // the features.json path works as well as the folder
  assert.equal((await readTeacherFeatures(path.join(dir, 'features.json'))).index.rows.length, records.length);
});

test('size mismatch, bad index, duplicate rows and non-finite values are clear errors', async () => {
  const dir = path.join(tmp, 'bad');
  await writeFor(dir);
  await truncate(path.join(dir, 'features.f32'), 10);
  await assert.rejects(readTeacherFeatures(dir), (e: unknown) => e instanceof TeacherFeaturesError && /has 10 bytes, expected \d+ \(12|\d+ rows x 6 float32\)/.test(e.message));

  await writeFor(dir);
  const index = JSON.parse(await readFile(path.join(dir, 'features.json'), 'utf8'));
  await writeFile(path.join(dir, 'features.json'), JSON.stringify({ ...index, dim: 0 }));
  await assert.rejects(readTeacherFeatures(dir), /field dim/);
  await writeFile(path.join(dir, 'features.json'), JSON.stringify({ ...index, rows: [index.rows[0], index.rows[0], ...index.rows.slice(2)] }));
  await assert.rejects(readTeacherFeatures(dir), /rows\[1\] repeats patient/);
  await writeFile(path.join(dir, 'features.json'), '{');
  await assert.rejects(readTeacherFeatures(dir), /not valid JSON/);
  await assert.rejects(readTeacherFeatures(path.join(tmp, 'missing')), /cannot read .*features\.json/);

  await writeFor(dir);
  const bin = await readFile(path.join(dir, 'features.f32'));
  bin.writeFloatLE(Number.NaN, 8);
  await writeFile(path.join(dir, 'features.f32'), bin);
  await assert.rejects(readTeacherFeatures(dir), /row 0 .* non-finite/);
});

const opts = { config: tinyConfig, beta: 0.005, epochs: 1, patience: 1, batchSize: 8, learningRate: 5e-3, seed: 1 };

test('distillation (alpha > 0) needs features, for every training record', async () => {
  await assert.rejects(trainStudent(records, [], { ...opts, alpha: 0.4 }), (e: unknown) => e instanceof TrainingError && /needs teacher features/.test(e.message));
  const dir = path.join(tmp, 'partial');
  await writeFor(dir, records.slice(1));
  const partial = await readTeacherFeatures(dir);
  await assert.rejects(trainStudent(records, [], { ...opts, alpha: 0.4, teacher: partial }), /lack 1 of \d+ training records \(first: patient p0/);
});

test('distillation changes training: the MSE term moves the weights', async () => {
  const dir = path.join(tmp, 'full');
  await writeFor(dir);
  const teacher = await readTeacherFeatures(dir);
  const plain = await trainStudent(records, [], { ...opts, alpha: 0 });
  const distilled = await trainStudent(records, [], { ...opts, alpha: 0.8, teacher });
  assert.notDeepEqual(plain.weights.get('head1.w')!.data, distilled.weights.get('head1.w')!.data);
  assert.equal(distilled.weights.has('distill.w'), false, 'the projection is training-only');
});
