import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { EncounterRecord, PatientHistory } from '../../src/history/types.ts';
import { ageBand, collectNames, recordForEncounter, recordsFromHistory } from '../../src/dataset/records.ts';
import { loadMapping } from '../../src/mapping/load.ts';

const mappingPromise = loadMapping(join(resolve(import.meta.dirname, '../fixtures'), 'mappings/basic.json'));

function encounter(id: string, start: string, dx: string[], labels: string[][], extra: Partial<EncounterRecord> = {}): EncounterRecord {
  return {
    id,
    start,
    diagnoses: dx.map((code) => ({ token: `icd10:${code}`, concept: { system: 'http://hl7.org/fhir/sid/icd-10-cm', code, display: `dx ${code}` } })),
    procedures: [],
    medications: labels.map((l, i) => ({ concept: { system: 'x', code: `${id}-${i}` }, labels: l })),
    ...extra,
  };
}

const history: PatientHistory = {
  patientId: 'p',
  profile: { sex: 'female', birthDate: '1950-01-01', categorical: { marital_status: 'M' } },
  encounters: [
    encounter('e0', '2019-01-01T00:00:00Z', ['I10'], [['C09A']], { ageYears: 69, categorical: { admission_type: 'AMB' } }),
    encounter('e1', '2019-06-01T00:00:00Z', [], []), // empty: neither target nor history
    encounter('e2', '2020-01-01T00:00:00Z', ['E119'], []), // no label: history only
    encounter('e3', '2021-01-01T00:00:00Z', ['E119', 'I10'], [['A10B', 'C09A'], ['A10B'], []], { ageYears: 71, categorical: { admission_type: 'IMP' } }),
  ],
};

test('age bands from lower bounds', () => {
  assert.equal(ageBand(17, [0, 18, 40, 65]), '0-17');
  assert.equal(ageBand(18, [0, 18, 40, 65]), '18-39');
  assert.equal(ageBand(90, [0, 18, 40, 65]), '65+');
  assert.equal(ageBand(undefined, [0, 18]), undefined);
  assert.equal(ageBand(5, [10, 20]), undefined);
});

test('one record per eligible encounter, earlier non-empty encounters as history, labels unique and sorted', async () => {
  const mapping = await mappingPromise;
  const skipped: Record<string, number> = {};
  const records = recordsFromHistory(history, mapping, skipped);
  assert.deepEqual(skipped, { empty: 1, 'no-label': 1 });
  assert.deepEqual(records.map((r) => [r.encounterId, r.visitIndex, r.patientVisits]), [['e0', 0, 2], ['e3', 3, 2]]);
  const last = records[1]!;
  assert.deepEqual(last.labels, ['A10B', 'C09A']);
  assert.deepEqual(last.diagnoses, ['icd10:E119', 'icd10:I10']);
  assert.deepEqual(last.profile, { sex: 'female', age_band: '65+', marital_status: 'M', admission_type: 'IMP' });
  assert.deepEqual(
    last.history.map((h) => [h.encounterId, h.diagnoses, h.medications]),
    [
      ['e0', ['icd10:I10'], ['C09A']],
      ['e2', ['icd10:E119'], []],
    ],
  );
  assert.deepEqual(records[0]!.history, []);
  assert.deepEqual(records[0]!.profile.admission_type, 'AMB');
});

test('when the mapping does not require a diagnosis and a label, every non-empty encounter is a record', async () => {
  const base = await mappingPromise;
  const mapping = { ...base, config: { ...base.config, encounters: { ...base.config.encounters, requireDiagnosisAndLabel: false } } };
  assert.deepEqual(recordsFromHistory(history, mapping).map((r) => r.encounterId), ['e0', 'e2', 'e3']);
});

test('serving-time record: any encounter, labels may be empty, counts earlier eligible encounters', async () => {
  const mapping = await mappingPromise;
  const current = recordForEncounter(history, 2, mapping);
  assert.equal(current.encounterId, 'e2');
  assert.deepEqual(current.labels, []);
  assert.equal(current.patientVisits, 2, 'e0 before it plus itself');
  assert.deepEqual(current.history.map((h) => h.encounterId), ['e0']);
  assert.throws(() => recordForEncounter(history, 9, mapping), RangeError);
});

test('names: token displays and label names from the catalog', async () => {
  const mapping = await mappingPromise;
  const names = new Map<string, string>();
  collectNames(history, mapping, names);
  assert.equal(names.get('icd10:I10'), 'dx I10');
  assert.equal(names.get('A10B'), 'Blood glucose lowering drugs, excl. insulins');
  assert.equal(names.has('C09A'), false, 'labels without a catalog entry have no name');
});
