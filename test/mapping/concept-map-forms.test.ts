import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMapping } from '../../src/mapping/load.ts';
import { MappingError } from '../../src/mapping/errors.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const NDC = 'http://hl7.org/fhir/sid/ndc';

function mapping(source: Record<string, unknown>, csv: string): string {
  const dir = tempDir('leader-cmap-');
  writeFileSync(join(dir, 'map.csv'), csv);
  const path = join(dir, 'mapping.json');
  writeFileSync(
    path,
    JSON.stringify({
      name: 'cmap-test',
      diagnoses: { systems: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', namespace: 'icd10' }] },
      procedures: { systems: [{ system: 'http://snomed.info/sct', namespace: 'sct' }] },
      medications: { labelSpace: 'atc3', sources: [{ kind: 'concept-map', name: 'm', file: 'map.csv', fromColumn: 'from', toColumn: 'to', transform: { prefix: 4 }, ...source }] },
    }),
  );
  return path;
}

test('concept map normalise ndc: table and data in different NDC forms meet at 5-4-2', async () => {
  // Table keys in three forms; one unhyphenated 10-digit row cannot be placed and is skipped.
  const csv = 'from,to\n00002-1433-80,A10AB04\n50090-347-01,C09AA03\n68180051301,C10AA05\n0781123456,N02BE01\n2143381,B01AA03\n';
  const m = await loadMapping(mapping({ systems: [NDC], normalise: 'ndc' }, csv));
  const labels = (code: string) => m.medicationLabels([{ system: NDC, code }]);
  assert.deepEqual(labels('0002-1433-80'), ['A10A'], '4-4-2 data, 5-4-2 table');
  assert.deepEqual(labels('00002143380'), ['A10A']);
  assert.deepEqual(labels('2143380'), ['A10A'], 'a spreadsheet dropped the leading zeros');
  assert.deepEqual(labels('5009034701'), ['C09A'], 'unhyphenated 10 digits: the one reading in the table');
  assert.deepEqual(labels('68180-0513-1'), ['C10A'], '5-4-1 data, 11-digit table');
  assert.deepEqual(labels('0781123456'), [], 'the table row was ambiguous, so it was not loaded');
  assert.deepEqual(labels('0002-1433-8A'), [], 'letters: not matched');
  assert.deepEqual(labels('00002-1433-81'), ['B01A'], 'a table row that lost its leading zeros is the 11-digit NDC padded back');
});

test('concept map normalise ndc: an unhyphenated 10-digit code with two readings in the table matches neither', async () => {
  // 1234567890 reads as 01234567890 (4-4-2) or 12345067890 (5-3-2): both listed, with different labels.
  const csv = 'from,to\n01234-5678-90,A02BC01\n12345-0678-90,C07AB02\n';
  const m = await loadMapping(mapping({ systems: [NDC], normalise: 'ndc' }, csv));
  assert.deepEqual(m.medicationLabels([{ system: NDC, code: '1234567890' }]), []);
  assert.deepEqual(m.medicationLabels([{ system: NDC, code: '1234-5678-90' }]), ['A02B'], 'hyphens resolve it');
});

test('concept map match text: CodeableConcept.text and displays, with name normalisation', async () => {
  const csv = 'from,to\nMetformin Hydrochloride 500 mg tablet,A10BA02\nWarfarin,B01AA03\n';
  const m = await loadMapping(mapping({ match: 'text' }, csv));
  assert.deepEqual(m.medicationLabels([], 'METFORMIN  hydrochloride, 500-MG tablet'), ['A10B']);
  assert.deepEqual(m.medicationLabels([{ system: 'http://example.org/local', code: 'x', display: 'warfarin' }]), ['B01A'], 'a display counts');
  assert.deepEqual(m.medicationLabels([], 'warfarin sodium'), [], 'no fuzzy matching');
  assert.deepEqual(m.medicationLabels([], '   '), []);
  const limited = await loadMapping(mapping({ match: 'text', systems: ['http://example.org/only'] }, csv));
  assert.deepEqual(limited.medicationLabels([{ system: 'http://example.org/local', display: 'Warfarin' }]), [], 'displays only of the listed systems');
  assert.deepEqual(limited.medicationLabels([], 'Warfarin'), ['B01A'], 'text is always read');
});

test('concept map match code without systems is refused at load, naming the field', async () => {
  await assert.rejects(loadMapping(mapping({ match: 'code' }, 'from,to\na,B01AA03\n')), (err: unknown) => {
    assert.ok(err instanceof MappingError);
    assert.match(err.message, /medications\.sources\[0\]\.systems: required for match 'code'/);
    return true;
  });
});
