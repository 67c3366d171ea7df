import { test } from 'node:test';
import assert from 'node:assert/strict';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import { compileField, firstValue } from '../../src/fhir/profile-fields.ts';
import { MappingError } from '../../src/mapping/errors.ts';
import { generateCohort } from '../fixtures/cohort.ts';

const RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
const patients: object[] = [
  {
    resourceType: 'Patient',
    id: 'a',
    gender: 'female',
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }], text: 'Married' },
    communication: [{ language: { coding: [{ code: 'es' }] } }, { language: { coding: [{ code: 'en' }] } }],
    extension: [
      { url: 'http://example.org/other', valueString: 'no' },
      { url: RACE, extension: [{ url: 'ombCategory', valueCoding: { code: '2106-3', display: 'White' } }, { url: 'text', valueString: 'White' }] },
    ],
  },
  { resourceType: 'Patient', id: 'b', extension: [{ url: RACE, extension: [{ url: 'ombCategory', valueCoding: { code: '2054-5' } }] }] },
  { resourceType: 'Patient', id: 'c' },
  ...generateCohort(3, 5).patients,
];
const expressions = [
  'gender',
  'Patient.gender',
  'maritalStatus',
  'maritalStatus.coding.code',
  'maritalStatus.text',
  'communication.language.coding.code',
  `extension.where(url='${RACE}').extension.where(url='text').value`,
  `extension.where(url = '${RACE}').extension.where(url = 'ombCategory').value`,
  `extension.where(url = '${RACE}').extension.where(url = 'ombCategory').valueCoding.code`,
  `extension.where(url='${RACE}').extension.where(url='ombCategory').value.display`,
  "extension.where(url='http://example.org/other').value",
  // Outside the fast subset: evaluated by the fhirpath package.
  "iif(gender = 'female', 'F', 'M')",
  'extension.first().url',
];

test('compiled profile fields give what the fhirpath package gives', () => {
  for (const expression of expressions) {
    const fast = compileField({ name: 'f', resource: 'Patient', fhirpath: expression }, 'm.json', 0);
    const reference = fhirpath.compile(expression, r4);
    for (const patient of patients) {
      assert.equal(fast(patient), firstValue(reference(patient as never)), `${expression} on ${(patient as { id: string }).id}`);
    }
  }
  const race = compileField({ name: 'race', resource: 'Patient', fhirpath: expressions[6]! }, 'm.json', 0);
  assert.equal(race(patients[0]!), 'White');
  assert.equal(race(patients[1]!), undefined);
});

test('an invalid expression names the mapping field', () => {
  assert.throws(
    () => compileField({ name: 'f', resource: 'Patient', fhirpath: "extension.where(url='x'" }, 'm.json', 3),
    (err: unknown) => err instanceof MappingError && /m\.json: profile\.fields\[3\]\.fhirpath: invalid FHIRPath/.test(err.message),
  );
});
