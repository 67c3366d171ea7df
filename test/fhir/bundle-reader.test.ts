import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Bundle, Resource } from 'fhir/r4';
import { historyFromResources } from '../../src/fhir/bundle-reader.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import type { LoadedMapping } from '../../src/mapping/types.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures');
const mappingPromise = loadMapping(join(fixtures, 'mappings/basic.json'));
const bundle = JSON.parse(readFileSync(join(fixtures, 'bundles/search-bundle.json'), 'utf8')) as Bundle;

async function withMapping(change: (config: LoadedMapping['config']) => void): Promise<LoadedMapping> {
  const base = await mappingPromise;
  const config = structuredClone(base.config);
  change(config);
  return { ...base, config };
}

test('a search Bundle with urn:uuid fullUrls, separate and contained Medications becomes an ordered history', async () => {
  const mapping = await mappingPromise;
  const { history, issues } = historyFromResources(bundle, mapping);
  assert.deepEqual(issues, []);
  assert.equal(history.patientId, '7d1b4a52-0000-4000-8000-000000000001');
  assert.deepEqual(history.profile, { sex: 'male', birthDate: '1960-03-01', categorical: { marital_status: 'W' } });
  assert.deepEqual(
    history.encounters.map((e) => [e.id, e.class, e.ageYears, e.categorical?.admission_type]),
    [
      ['7d1b4a52-0000-4000-8000-0000000000e1', 'IMP', 63, 'IMP'],
      ['7d1b4a52-0000-4000-8000-0000000000e2', 'EMER', 64, 'EMER'],
    ],
    'ordered by period.start, not by entry order',
  );
  const [first, second] = history.encounters;
  assert.deepEqual(first!.diagnoses.map((d) => d.token), ['icd10:I4891']);
  assert.equal(first!.diagnoses[0]!.source, 'Condition/cond-1');
  assert.deepEqual(first!.procedures.map((p) => p.token), ['icd10pcs:5A1955Z']);
  assert.deepEqual(first!.medications.map((m) => [m.source, m.labels, m.concept.display]), [['MedicationRequest/mr-1', ['B01A'], 'Warfarin 5 mg tablet']]);
  // The ICD-10 coding of a dual-coded Condition is the one the mapping knows.
  assert.deepEqual(second!.diagnoses.map((d) => d.token), ['icd10:I10']);
  assert.deepEqual(
    second!.medications.map((m) => [m.source, m.labels]),
    [
      ['MedicationRequest/mr-2', ['N02B']],
      ['MedicationRequest/mr-3', ['C03C']],
      ['MedicationRequest/mr-4', []],
    ],
  );
  assert.equal(second!.medications[2]!.concept.display, 'Unlisted cream 1%');
});

test('a plain resource array works the same, and the patient can be chosen', async () => {
  const mapping = await mappingPromise;
  const resources = (bundle.entry ?? []).map((e) => e.resource as Resource);
  const withIds = resources.map((r, i) => ({ ...r, id: r.id ?? `r${i}` }));
  // Plain arrays carry no fullUrls: rewrite urn:uuid references to Type/id.
  const text = JSON.stringify(withIds)
    .replaceAll('urn:uuid:7d1b4a52-0000-4000-8000-000000000001', 'Patient/r0')
    .replaceAll('urn:uuid:7d1b4a52-0000-4000-8000-0000000000e2', 'Encounter/r1')
    .replaceAll('urn:uuid:7d1b4a52-0000-4000-8000-0000000000e1', 'Encounter/r2')
    .replaceAll('urn:uuid:7d1b4a52-0000-4000-8000-00000000med1', 'Medication/r6');
  const { history, issues } = historyFromResources(JSON.parse(text) as Resource[], mapping, 'Patient/r0');
  assert.deepEqual(issues, []);
  assert.equal(history.patientId, 'r0');
  assert.deepEqual(history.encounters.map((e) => e.id), ['r2', 'r1']);
  assert.deepEqual(history.encounters[0]!.medications[0]!.labels, ['B01A']);
});

test('resources without an encounter attach by date when the mapping says so, and are counted when not', async () => {
  const resources: Resource[] = [
    { resourceType: 'Patient', id: 'p' } as Resource,
    { resourceType: 'Encounter', id: 'a', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/p' }, period: { start: '2022-01-10T08:00:00Z', end: '2022-01-12T08:00:00Z' } } as Resource,
    { resourceType: 'Encounter', id: 'b', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/p' }, period: { start: '2022-03-01T08:00:00Z' } } as Resource,
    { resourceType: 'Condition', id: 'in-a', subject: { reference: 'Patient/p' }, onsetDateTime: '2022-01-11T00:00:00Z', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10' }] } } as Resource,
    // A date without time matches the encounter day.
    { resourceType: 'Condition', id: 'day-b', subject: { reference: 'Patient/p' }, onsetDateTime: '2022-03-01', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E78.5' }] } } as Resource,
    { resourceType: 'Condition', id: 'nowhere', subject: { reference: 'Patient/p' }, onsetDateTime: '2021-06-01T00:00:00Z', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'J45' }] } } as Resource,
    { resourceType: 'Procedure', id: 'proc', status: 'completed', subject: { reference: 'Patient/p' }, performedDateTime: '2022-01-11T00:00:00Z', code: { coding: [{ system: 'http://www.cms.gov/Medicare/Coding/ICD10', code: '5A1955Z' }] } } as Resource,
  ];
  const { history, issues } = historyFromResources(resources, await mappingPromise);
  assert.deepEqual(history.encounters.map((e) => e.diagnoses.map((d) => d.token)), [['icd10:I10'], ['icd10:E785']]);
  assert.deepEqual(history.encounters[0]!.procedures, [], 'procedures do not attach by date in this mapping');
  assert.deepEqual(
    issues.map((i) => [i.kind, i.resource, i.field]),
    [
      ['no-encounter-at-date', 'Condition/nowhere', 'onset[x]'],
      ['no-encounter', 'Procedure/proc', 'encounter'],
    ],
  );
});

test('until-abatement conditions count at every later encounter until abatement (Synthea style)', async () => {
  const mapping = await withMapping((c) => {
    c.diagnoses.activity = 'until-abatement';
  });
  const enc = (id: string, start: string) =>
    ({ resourceType: 'Encounter', id, status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/p' }, period: { start } }) as Resource;
  const cond = (id: string, extra: Record<string, unknown>) =>
    ({ resourceType: 'Condition', id, subject: { reference: 'Patient/p' }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: id }] }, ...extra }) as Resource;
  const resources: Resource[] = [
    { resourceType: 'Patient', id: 'p' } as Resource,
    enc('e1', '2020-01-01T10:00:00Z'),
    enc('e2', '2020-06-01T10:00:00Z'),
    enc('e3', '2021-01-01T10:00:00Z'),
    enc('e4', '2022-01-01T10:00:00Z'),
    cond('I10', { encounter: { reference: 'Encounter/e1' }, onsetDateTime: '2020-01-01T10:00:00Z' }),
    cond('J20', { encounter: { reference: 'Encounter/e2' }, onsetDateTime: '2020-06-01T10:00:00Z', abatementDateTime: '2020-07-01T00:00:00Z' }),
    cond('E11', { encounter: { reference: 'Encounter/e2' }, abatementDateTime: '2021-06-01T00:00:00Z' }),
    // No encounter: placed by onset (attach-by-date) and active afterwards.
    cond('N18', { onsetDateTime: '2020-12-15T00:00:00Z' }),
  ];
  const { history, issues } = historyFromResources(resources, mapping);
  assert.deepEqual(issues, []);
  assert.deepEqual(
    history.encounters.map((e) => e.diagnoses.map((d) => d.token).sort()),
    [['icd10:I10'], ['icd10:E11', 'icd10:I10', 'icd10:J20'], ['icd10:E11', 'icd10:I10', 'icd10:N18'], ['icd10:I10', 'icd10:N18']],
  );
});

test('bad resources in a bundle are reported with entry index and field, never thrown', async () => {
  const mapping = await mappingPromise;
  const bad = {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: [
      { resource: { resourceType: 'Patient', id: 'p' } },
      { resource: { resourceType: 'Encounter', id: 'e', subject: { reference: 'Patient/p' }, period: { start: 'not a date' } } },
      { resource: { resourceType: 'Condition', id: 'c', subject: { reference: 'Patient/p' }, encounter: { reference: 'Encounter/e' }, code: 'I10' } },
      { resource: { resourceType: 'MedicationRequest', id: 'm', status: 'active', subject: { reference: 'Patient/p' }, encounter: { reference: 'Encounter/e' }, medicationReference: { reference: '#gone' } } },
      { resource: { resourceType: 'MedicationRequest', id: 'm2', status: 'active', subject: { reference: 'Patient/other' }, medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code: 'N02BE01' }] } } },
      { fullUrl: 'urn:uuid:x' },
      'junk',
    ],
  } as unknown as Bundle;
  const { history, issues } = historyFromResources(bad, mapping, 'p');
  assert.deepEqual(history.encounters, []);
  assert.deepEqual(
    issues.map((i) => [i.kind, i.line, i.field]).sort(),
    [
      ['dangling-reference', 4, 'medicationReference.reference'],
      ['invalid-date', 2, 'period.start'],
      ['malformed-json', 7, 'entry[6]'],
      ['missing-resource-type', 6, 'entry[5].resource'],
      ['missing-subject', 5, 'subject.reference'],
      ['no-code', 3, 'code.coding'],
    ].sort(),
  );
});
