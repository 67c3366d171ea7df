import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DatasetRecord, HistoryVisit } from '../../src/dataset/types.ts';
import { Encoder, unpackSets } from '../../src/model/student/encode.ts';
import { buildVocabularies, FIRST, VocabIndex } from '../../src/model/student/vocab.ts';
import { generateRecords, tinyConfig } from './helpers.ts';

function visit(i: number, extra: Partial<HistoryVisit> = {}): HistoryVisit {
  return { encounterId: `e${i}`, start: `2020-01-${String(i + 1).padStart(2, '0')}`, diagnoses: [`icd:D${i}`], procedures: [], medications: ['A'], ...extra };
}

function record(history: HistoryVisit[], extra: Partial<DatasetRecord> = {}): DatasetRecord {
  return {
    patientId: 'p',
    encounterId: 'cur',
    visitIndex: history.length,
    patientVisits: history.length + 1,
    start: '2021-01-01',
    profile: { sex: 'female', age_band: '40' },
    history,
    diagnoses: ['icd:CUR'],
    procedures: ['pcs:X'],
    labels: ['A', 'B'],
    ...extra,
  };
}

test('vocabularies keep one table per kind: a diagnosis token is not a known procedure', () => {
  const r = record([], { diagnoses: ['icd9:250'], procedures: ['icd9p:250'] });
  const vocab = buildVocabularies([r]);
  assert.deepEqual(vocab.diagnoses, ['icd9:250']);
  assert.deepEqual(vocab.procedures, ['icd9p:250']);
  const enc = new Encoder(new VocabIndex(vocab), tinyConfig);
  const b = enc.encode([record([], { diagnoses: ['icd9p:250'], procedures: ['icd9:250'] })]);
  assert.deepEqual(unpackSets(b.diagnoses), [[[]]]);
  assert.deepEqual(unpackSets(b.procedures), [[[]]]);
  assert.deepEqual(b.unknown[0], [
    { kind: 'diagnosis', code: 'icd9p:250' },
    { kind: 'procedure', code: 'icd9:250' },
  ]);
  assert.equal(b.known[0], false);
});

test('the most recent encounters are kept and the current one always survives (defect 3)', () => {
  const history = Array.from({ length: 12 }, (_, i) => visit(i, { medications: [i % 2 ? 'A' : 'B'] }));
  const r = record(history);
  const vocab = buildVocabularies([r]);
  const index = new VocabIndex(vocab);
  const enc = new Encoder(index, tinyConfig); // maxVisits 4 = 3 earlier + current
  const b = enc.encode([r]);
  assert.deepEqual(b.diagnoses.slots.shape, [1, 4]);
  const names = unpackSets(b.diagnoses)[0]!.map((set) => set.map((row) => vocab.diagnoses[row - FIRST]));
  assert.deepEqual(names, [['icd:D9'], ['icd:D10'], ['icd:D11'], ['icd:CUR']]);
  // medication history: meds of the same kept encounters (9, 10, 11), not of the current one
  assert.deepEqual(b.medications.slots.shape, [1, 3]);
  assert.deepEqual(unpackSets(b.medications)[0]!.map((set) => set.map((row) => vocab.labels[row - FIRST])), [['A'], ['B'], ['A']]);
});

test('packing: only real sets are packed (row 0 is the empty set), slots point at them, full padding uses the maxima', () => {
  const recs = [record([]), record([visit(0, { diagnoses: ['icd:D0', 'icd:D1', 'icd:D2'] })])];
  const vocab = buildVocabularies(recs);
  const enc = new Encoder(new VocabIndex(vocab), tinyConfig);
  const b = enc.encode(recs);
  // sets: empty row + current of record 0 + visit 0 and current of record 1; width of the widest set
  assert.deepEqual(b.diagnoses.codes.shape, [4, 3]);
  assert.deepEqual([...b.diagnoses.codes.data.subarray(0, 3)], [0, 0, 0]);
  // right-aligned: the current encounter is always the last slot, a shorter history is padded in front
  assert.deepEqual([...b.diagnoses.slots.data], [0, 1, 2, 3]);
  assert.deepEqual(unpackSets(b.diagnoses).map((r) => r.map((s) => s.length)), [[0, 1], [3, 1]]);
  // a first-visit patient has no medication history: its slot points at the empty row
  assert.deepEqual(b.medications.slots.shape, [2, 1]);
  assert.equal(b.medications.slots.data[0], 0);
  assert.equal(b.medications.slots.data[1], 1);
  assert.deepEqual(b.profile.shape, [2, vocab.profile.length]);
  const full = enc.encode(recs, { pad: 'full' });
  assert.deepEqual(full.diagnoses.slots.shape, [2, tinyConfig.maxVisits]);
  assert.deepEqual(full.diagnoses.codes.shape, [4, tinyConfig.maxCodes]);
  assert.deepEqual(full.medications.slots.shape, [2, tinyConfig.maxVisits - 1]);
  const V = tinyConfig.maxVisits;
  assert.deepEqual([...full.diagnoses.slots.data], [...Array(V - 1).fill(0), 1, ...Array(V - 2).fill(0), 2, 3]);
  assert.deepEqual(unpackSets(full.medications).map((r) => r.map((s) => s.length)), [Array(V - 1).fill(0), [...Array(V - 2).fill(0), 1]]);
});

test('codes per set are capped at maxCodes and duplicates count once', () => {
  const many = Array.from({ length: 10 }, (_, i) => `icd:M${i}`);
  const r = record([], { diagnoses: [...many, 'icd:M0'] });
  const enc = new Encoder(new VocabIndex(buildVocabularies([r])), tinyConfig);
  const b = enc.encode([r]);
  assert.deepEqual(b.diagnoses.codes.shape, [2, tinyConfig.maxCodes]);
  assert.equal(new Set(unpackSets(b.diagnoses)[0]![0]).size, tinyConfig.maxCodes);
});

test('alignment targets look labels up in the medication table: label i -> row i + 2, the first label kept (defect 2)', () => {
  const recs = generateRecords({ patients: 20, seed: 5 });
  const vocab = buildVocabularies(recs);
  const enc = new Encoder(new VocabIndex(vocab), tinyConfig);
  const r = record([], { labels: [vocab.labels[0]!, vocab.labels[3]!] });
  const cur = enc.currentMedications([r]);
  assert.deepEqual([...cur.data], [FIRST + 0, FIRST + 3]);
  const y = enc.targets([r]);
  assert.equal(y[0], 1);
  assert.equal(y[3], 1);
  assert.equal(y.reduce((a, b) => a + b, 0), 2);
});

test('unknown profile values and codes are reported; a patient with only unknown codes is not "known"', () => {
  const recs = generateRecords({ patients: 10, seed: 1 });
  const enc = new Encoder(new VocabIndex(buildVocabularies(recs)), tinyConfig);
  const b = enc.encode([record([], { diagnoses: ['icd:NEW'], procedures: [], profile: { sex: 'other', age_band: '20' } })]);
  assert.equal(b.known[0], false);
  assert.deepEqual(
    b.unknown[0]!.map((u) => `${u.kind}:${u.code}`).sort(),
    ['diagnosis:icd:NEW', 'profile:sex=other'],
  );
});
