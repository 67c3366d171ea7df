// Malformed FHIR JSON can carry a number or an object where a code string belongs: such a value is ignored
// (no token, no label), never a crash of the mapping lookups.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import type { Coding } from 'fhir/r4';
import { loadMapping } from '../../src/mapping/load.ts';
import { normaliseCode, transformLabel } from '../../src/mapping/normalise.ts';

const basicPath = join(resolve(import.meta.dirname, '../fixtures/mappings'), 'basic.json');
/** A coding as it arrives from JSON that ignores the R4 types. */
const raw = (value: Record<string, unknown>) => value as unknown as Coding;

test('normaliseCode and transformLabel give no code for a value that is not a string', () => {
  for (const bad of [250, null, undefined, { code: 'E11.9' }, ['E11.9'], true]) {
    assert.equal(normaliseCode(bad, 'strip-dots-uppercase'), '');
    assert.equal(normaliseCode(bad, 'digits-only'), '');
    assert.equal(transformLabel(bad, { prefix: 4, uppercase: true }), '');
  }
  assert.equal(normaliseCode(' e11.9 ', 'strip-dots-uppercase'), 'E119', 'strings are still normalised');
});

test('a loaded mapping ignores non-string codes in diagnosis, ATC and concept-map lookups', async () => {
  const m = await loadMapping(basicPath);
  assert.equal(m.codedEntry('diagnosis', raw({ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 250 })), undefined);
  assert.equal(m.codedEntry('procedure', raw({ system: 'http://www.cms.gov/Medicare/Coding/ICD10', code: { value: '0DTJ4ZZ' } })), undefined);
  assert.deepEqual(m.medicationLabels([raw({ system: 'http://www.whocc.no/atc', code: 2 })]), []);
  assert.deepEqual(m.medicationLabels([raw({ system: 'http://example.org/drug-name', code: ['WARFARIN'] })]), []);
  // A good coding next to a bad one still maps.
  assert.deepEqual(m.medicationLabels([raw({ system: 'http://www.whocc.no/atc', code: 7 }), { system: 'http://www.whocc.no/atc', code: 'N02BE01' }]), ['N02B']);
  assert.equal(m.codedEntry('diagnosis', { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9' })?.token, 'icd10:E119');
});
