// The serving record is built by the training record's code (docs/now.md): for every training record of a
// synthetic cohort, "now" placed at that encounter gives the same model input.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { recordForEncounter, recordsFromHistory } from '../../src/dataset/records.ts';
import { historyFromResources } from '../../src/fhir/bundle-reader.ts';
import { placeNow } from '../../src/history/now.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import type { LoadedMapping } from '../../src/mapping/types.ts';
import { generatePatients } from '../../src/synth/generator.ts';

let mapping: LoadedMapping;
before(async () => {
  mapping = await loadMapping('mappings/synthetic.json');
});

describe('serving record = training record', () => {
  test('at each training encounter of 40 synthetic patients, the serving path builds the same record', () => {
    let compared = 0;
    let withHistory = 0;
    for (const { patient, resources } of generatePatients({ seed: 11, patients: 40 })) {
      const read = historyFromResources(resources, mapping, patient.id, undefined, { keepProblems: true });
      const training = recordsFromHistory(read.history, mapping);
      for (const record of training) {
        const encounter = read.history.encounters.find((e) => e.id === record.encounterId)!;
        const now = placeNow(read.history, { encounterId: record.encounterId, at: new Date(encounter.start) });
        assert.equal(now.basis, 'context-encounter');
        const serving = recordForEncounter(now.history, now.index, mapping);
        // patientVisits counts eligible visits up to this one at serving time (the future is unknown); the rest is equal.
        const { patientVisits: _a, ...train } = record;
        const { patientVisits: _b, ...serve } = serving;
        assert.deepEqual(serve, train, `Patient/${patient.id} Encounter/${record.encounterId}`);
        compared++;
        if (record.history.length > 0) withHistory++;
      }
    }
    assert.ok(compared > 40, `compared ${compared} records`);
    assert.ok(withHistory > 10, `${withHistory} records with earlier encounters`);
  });

  test('with no encounter in progress, "now" is a new encounter after the last one, holding the active problems', () => {
    for (const { patient, resources } of generatePatients({ seed: 12, patients: 10 })) {
      const read = historyFromResources(resources, mapping, patient.id, undefined, { keepProblems: true });
      const now = placeNow(read.history, { at: new Date('2100-01-01T00:00:00Z') });
      assert.equal(now.basis, 'active-problems');
      const serving = recordForEncounter(now.history, now.index, mapping);
      const open = (read.history.problems ?? []).filter((p) => p.clinicalStatus === 'active' && p.abatement === undefined);
      assert.deepEqual(new Set(serving.diagnoses), new Set(open.map((p) => p.token)));
      assert.equal(serving.history.length, read.history.encounters.filter((e) => e.diagnoses.length + e.procedures.length + e.medications.length > 0).length);
      assert.deepEqual(serving.labels, []);
    }
  });
});
