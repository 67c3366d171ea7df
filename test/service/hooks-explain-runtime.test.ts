// Explanations on the real ONNX student (models/demo): the occlusion batch shares identical code sets between
// its near-copies of one record, and that must not change a single probability.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { unpackSets, type PackedSets } from '../../src/model/student/encode.ts';
import { shareIdenticalSets, StudentRuntime } from '../../src/model/runtime/session.ts';
import { occlusionInputs, withoutInput } from '../../src/service/cards/explain.ts';
import { projectRoot } from '../../src/service/config.ts';

let runtime: StudentRuntime;
before(async () => {
  runtime = await StudentRuntime.load(path.join(projectRoot, 'models/demo'), { provider: 'cpu', threads: 1 });
});
after(() => runtime.close());

test('identical code sets are stored once and every slot still sees the same codes', () => {
  // Rows: 0 padding, 1 = {5,7}, 2 = {9}, 3 = {5,7} again, 4 = {9} again, 5 = {3,4}.
  const packed: PackedSets = {
    codes: { data: Int32Array.from([0, 0, 5, 7, 9, 0, 5, 7, 9, 0, 3, 4]), shape: [6, 2] },
    slots: { data: Int32Array.from([1, 2, 0, 3, 4, 5]), shape: [2, 3] },
  };
  const shared = shareIdenticalSets(packed);
  assert.deepEqual(shared.codes.shape, [4, 2]);
  assert.deepEqual([...shared.slots.data], [1, 2, 0, 1, 2, 3]);
  assert.deepEqual(unpackSets(shared), unpackSets(packed));
  // Nothing to share: the batch is passed through as it is.
  const distinct: PackedSets = { codes: { data: Int32Array.from([0, 0, 1, 2]), shape: [2, 2] }, slots: { data: Int32Array.from([1, 0]), shape: [1, 2] } };
  assert.equal(shareIdenticalSets(distinct), distinct);
});

test('occlusion variants batched on the ONNX student score exactly as each variant alone', async () => {
  const v = runtime.manifest.vocabularies;
  const dx = (i: number) => v.diagnoses[i % v.diagnoses.length]!;
  const px = (i: number) => v.procedures[i % v.procedures.length]!;
  const med = (i: number) => v.labels[i % v.labels.length]!;
  const visit = (k: number) => ({
    encounterId: `e${k}`,
    start: `2020-0${k + 1}-01T00:00:00Z`,
    diagnoses: [dx(3 * k), dx(3 * k + 1), dx(7)],
    procedures: [px(k)],
    medications: [med(k), med(k + 2)],
  });
  const record: DatasetRecord = {
    patientId: 'p',
    encounterId: 'current',
    visitIndex: 5,
    patientVisits: 6,
    start: '2020-07-01T00:00:00Z',
    profile: { age_band: v.profile.find((f) => f.field === 'age_band')!.values[2]!, sex: 'female' },
    history: [0, 1, 2, 3, 4].map(visit),
    diagnoses: [dx(20), dx(21), dx(7)],
    procedures: [px(9)],
    labels: [],
  };
  const variants = [record, ...occlusionInputs(record, 64).map((input) => withoutInput(record, input))];
  assert.ok(variants.length > 15, `enough variants to share sets (${variants.length})`);

  const encoded = runtime.encoder.encode(variants);
  const rows = encoded.diagnoses.codes.shape[0]!;
  assert.ok(shareIdenticalSets(encoded.diagnoses).codes.shape[0]! < rows / 3, 'most diagnosis sets of the variants repeat');

  const together = await runtime.predict(variants);
  for (const [i, variant] of variants.entries()) {
    const [alone] = await runtime.predict([variant]);
    const a = together[i]!;
    assert.equal(a.status, 'ok');
    assert.equal(alone!.status, 'ok');
    if (a.status !== 'ok' || alone!.status !== 'ok') continue;
    for (let k = 0; k < a.probabilities.length; k++) assert.ok(Math.abs(a.probabilities[k]! - alone!.probabilities[k]!) < 1e-5, `variant ${i}, label ${k}`);
  }

  // The bench's comparison runtime (every set run on its own) gives the same batch.
  const unshared = await StudentRuntime.load(path.join(projectRoot, 'models/demo'), { provider: 'cpu', threads: 1, shareSets: false });
  try {
    const plain = await unshared.predict(variants);
    for (const [i, p] of plain.entries()) {
      const a = together[i]!;
      assert.ok(p.status === 'ok' && a.status === 'ok');
      for (let k = 0; k < a.probabilities.length; k++) assert.ok(Math.abs(a.probabilities[k]! - p.probabilities[k]!) < 1e-5, `unshared variant ${i}, label ${k}`);
    }
  } finally {
    await unshared.close();
  }
});
