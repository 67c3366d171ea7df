import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kFoldByPatient, splitByPatient } from '../../src/eval/splits.ts';

function records(patients: number, perPatient: (i: number) => number) {
  const out: Array<{ patientId: string; encounterId: string }> = [];
  for (let p = 0; p < patients; p++) {
    for (let e = 0; e < perPatient(p); e++) out.push({ patientId: `p${p}`, encounterId: `p${p}-e${e}` });
  }
  return out;
}

const ids = (rs: Array<{ patientId: string }>) => new Set(rs.map((r) => r.patientId));

test('splitByPatient: disjoint by patient, complete, proportional', () => {
  const rs = records(1000, (i) => 1 + (i % 4));
  const s = splitByPatient(rs, { train: 0.8, validation: 0.1, test: 0.1 }, 7);
  const [tr, va, te] = [ids(s.train), ids(s.validation), ids(s.test)];
  for (const id of va) assert.ok(!tr.has(id) && !te.has(id));
  for (const id of te) assert.ok(!tr.has(id));
  assert.equal(s.train.length + s.validation.length + s.test.length, rs.length);
  assert.equal(tr.size, 800);
  assert.equal(va.size, 100);
  assert.equal(te.size, 100);
});

test('splitByPatient: deterministic by seed, independent of record order, seed matters', () => {
  const rs = records(200, () => 2);
  const a = splitByPatient(rs, { train: 8, validation: 1, test: 1 }, 3);
  const b = splitByPatient([...rs].reverse(), { train: 8, validation: 1, test: 1 }, 3);
  const c = splitByPatient(rs, { train: 8, validation: 1, test: 1 }, 4);
  assert.deepEqual([...ids(a.test)].sort(), [...ids(b.test)].sort());
  assert.notDeepEqual([...ids(a.test)].sort(), [...ids(c.test)].sort());
});

test('splitByPatient: tiny and invalid inputs', () => {
  const s = splitByPatient(records(3, () => 1), { train: 0.8, validation: 0.1, test: 0.1 }, 1);
  assert.deepEqual([ids(s.train).size, ids(s.validation).size, ids(s.test).size], [1, 1, 1]);
  assert.throws(() => splitByPatient(records(1, () => 1), { train: 0.8, validation: 0.1, test: 0.1 }, 1), /cannot split/);
  assert.throws(() => splitByPatient(records(5, () => 1), { train: 0.8, validation: -1, test: 0.1 }, 1), /non-negative/);
});

test('kFoldByPatient: every patient tested exactly once, never in its own train part', () => {
  const rs = records(103, (i) => 1 + (i % 3));
  const folds = kFoldByPatient(rs, 5, 11);
  assert.equal(folds.length, 5);
  const tested = new Map<string, number>();
  for (const f of folds) {
    const tr = ids(f.train);
    for (const id of ids(f.test)) {
      assert.ok(!tr.has(id));
      tested.set(id, (tested.get(id) ?? 0) + 1);
    }
    assert.equal(f.train.length + f.test.length, rs.length);
  }
  assert.equal(tested.size, 103);
  assert.ok([...tested.values()].every((n) => n === 1));
  const sizes = folds.map((f) => ids(f.test).size);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
  assert.deepEqual(
    kFoldByPatient(rs, 5, 11).map((f) => f.test.map((r) => r.encounterId)),
    folds.map((f) => f.test.map((r) => r.encounterId)),
  );
  assert.throws(() => kFoldByPatient(rs, 1, 1), /k >= 2/);
  assert.throws(() => kFoldByPatient(records(3, () => 1), 5, 1), /cannot make 5 folds/);
});
