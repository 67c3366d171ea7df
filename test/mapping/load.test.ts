import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tempDir } from '../helpers/temp-dir.ts';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { loadMapping } from '../../src/mapping/load.ts';
import { MappingError } from '../../src/mapping/errors.ts';
import { normaliseCode, transformLabel } from '../../src/mapping/normalise.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures/mappings');
const basicPath = join(fixtures, 'basic.json');
const basic = JSON.parse(readFileSync(basicPath, 'utf8')) as Record<string, unknown>;

function tempMapping(config: unknown, name = 'mapping.json', withCsv = true): string {
  const dir = tempDir('leader-mapping-');
  if (withCsv) copyFileSync(join(fixtures, 'drug-names.csv'), join(dir, 'drug-names.csv'));
  const path = join(dir, name);
  writeFileSync(path, name.endsWith('.json') ? JSON.stringify(config, null, 2) : stringify(config));
  return path;
}

async function loadError(path: string, overrides?: Parameters<typeof loadMapping>[1]): Promise<MappingError> {
  try {
    await loadMapping(path, overrides);
  } catch (err) {
    assert.ok(err instanceof MappingError, `expected MappingError, got ${String(err)}`);
    return err;
  }
  assert.fail('loadMapping accepted a bad mapping');
}

test('normalisation: ICD dots, case, NDC digits; ATC level 3 prefix', () => {
  assert.equal(normaliseCode('e11.9', 'strip-dots-uppercase'), 'E119');
  assert.equal(normaliseCode(' I10 ', 'none'), 'I10');
  assert.equal(normaliseCode('0003-0894-21', 'digits-only'), '0003089421');
  assert.equal(transformLabel('n02be01', { prefix: 4, uppercase: true }), 'N02B');
});

test('loads the fixture mapping: coded entries, concept map lookups, labels, interactions', async () => {
  const m = await loadMapping(basicPath);
  assert.equal(m.name, 'fixture-basic');
  assert.equal(m.labelSpace, 'atc3');
  assert.equal(m.path, basicPath);
  const dotted = m.codedEntry('diagnosis', { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9', display: 'T2DM' });
  const site = m.codedEntry('diagnosis', { system: 'http://example.org/site-icd10', code: 'e119' });
  assert.deepEqual(dotted, { token: 'icd10:E119', concept: { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E119', display: 'T2DM' } });
  assert.equal(site?.token, 'icd10:E119');
  assert.equal(site?.concept.system, 'http://hl7.org/fhir/sid/icd-10-cm', 'site system is recorded as its canonical');
  assert.equal(m.codedEntry('procedure', { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9' }), undefined, 'kinds are separate');
  assert.equal(m.codedEntry('diagnosis', { system: 'http://snomed.info/sct', code: '38341003' }), undefined);
  assert.deepEqual(m.medicationLabels([{ system: 'http://example.org/drug-name', code: 'WARFARIN' }]), ['B01A'], 'case-insensitive name match');
  assert.deepEqual(m.medicationLabels([{ system: 'http://www.whocc.no/atc', code: 'N02BE01' }]), ['N02B']);
  assert.deepEqual(m.medicationLabels([{ system: 'http://example.org/drug-name', code: 'Unlisted Cream' }]), []);
  assert.deepEqual(m.medicationLabels([{ system: 'http://example.org/other', code: 'Warfarin' }]), [], 'only configured systems');
  // The first source that yields labels wins: a direct ATC coding beats the name map.
  assert.deepEqual(
    m.medicationLabels([
      { system: 'http://example.org/drug-name', code: 'Warfarin' },
      { system: 'http://www.whocc.no/atc', code: 'C03CA01' },
    ]),
    ['C03C'],
  );
  assert.equal(m.labelEntry('N02B')?.orderable?.code, '161');
  assert.equal(m.labelEntry('ZZZZ'), undefined);
  assert.ok(m.interacts('B01A', 'N02B') && m.interacts('N02B', 'B01A'));
  assert.ok(!m.interacts('N02B', 'A10B'));
  assert.equal(m.interactionPairs().length, 2);
  assert.equal(m.conceptMaps.get('drug-names')?.size, 5);
});

test('a typo in a mapping key is refused, naming the file, the field and the likely key', async () => {
  const path = join(fixtures, 'typo.json');
  const err = await loadError(path);
  assert.match(err.message, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: diagnoses: unknown key 'withoutEncouter' \\(did you mean 'withoutEncounter'\\?\\)`));
  assert.equal(err.file, path);
  assert.equal(err.field, 'diagnoses');
});

test('every validation problem is reported with its field path', async () => {
  const config = structuredClone(basic) as { diagnoses: { systems: Array<Record<string, unknown>> }; medications: { sources: Array<Record<string, unknown>> } };
  config.diagnoses.systems[0]!.namespace = 'ICD 10';
  delete config.medications.sources[1]!.toColumn;
  const path = tempMapping(config);
  const err = await loadError(path);
  assert.match(err.message, /diagnoses\.systems\[0\]\.namespace: lower-case letters/);
  assert.match(err.message, /medications\.sources\[1\]\.toColumn: required/);
});

test('YAML mappings load like JSON ones', async () => {
  const path = tempMapping(basic, 'mapping.yaml');
  const m = await loadMapping(path);
  assert.deepEqual(m.medicationLabels([{ system: 'http://example.org/drug-name', code: 'metformin' }]), ['A10B']);
});

test('syntax errors name the line', async () => {
  const dir = tempDir('leader-mapping-');
  const json = join(dir, 'bad.json');
  writeFileSync(json, '{\n  "name": "x",\n  "diagnoses": {,\n}\n');
  assert.match((await loadError(json)).message, /bad\.json: invalid JSON at line 3/);
  const yaml = join(dir, 'bad.yaml');
  writeFileSync(yaml, 'name: x\ndiagnoses:\n  systems: [a\n');
  assert.match((await loadError(yaml)).message, /bad\.yaml: invalid YAML/);
});

test('a missing concept-map file names the mapping file and the field; --concept-map overrides it', async () => {
  const path = tempMapping(basic, 'mapping.json', false);
  const err = await loadError(path);
  assert.match(err.message, /mapping\.json: medications\.sources\[1\]\.file: file not found: .*drug-names\.csv/);
  // The override may be gzip: the site's own file.
  const gz = join(tempDir('leader-cm-'), 'names.csv.gz');
  writeFileSync(gz, gzipSync('drug,atc\nCustom Drug,J01CA04\n'));
  const m = await loadMapping(path, { conceptMaps: { 'drug-names': gz } });
  assert.deepEqual(m.medicationLabels([{ system: 'http://example.org/drug-name', code: 'custom drug' }]), ['J01C']);
  const unknown = await loadError(path, { conceptMaps: { 'drug-nmes': gz } });
  assert.match(unknown.message, /no concept-map source named 'drug-nmes'/);
});

test('a concept map without the configured columns is refused with the header it has', async () => {
  const config = structuredClone(basic) as { medications: { sources: Array<Record<string, unknown>> } };
  config.medications.sources[1]!.fromColumn = 'drug_name';
  const err = await loadError(tempMapping(config));
  assert.match(err.message, /medications\.sources\[1\]\.file: .*drug-names\.csv: column\(s\) 'drug_name' not in header \(drug, atc\)/);
});

test('label catalog file is merged, inline entries win; missing catalog is an error', async () => {
  const config = structuredClone(basic) as { labels: { file?: string; entries: Record<string, unknown> } };
  config.labels.file = 'catalog.json';
  const path = tempMapping(config);
  const dir = resolve(path, '..');
  writeFileSync(join(dir, 'catalog.json'), JSON.stringify({ N02B: { name: 'from file' }, J01C: { name: 'Beta-lactam antibacterials, penicillins' } }));
  const m = await loadMapping(path);
  assert.equal(m.labelEntry('J01C')?.name, 'Beta-lactam antibacterials, penicillins');
  assert.equal(m.labelEntry('N02B')?.name, 'Other analgesics and antipyretics');
  writeFileSync(join(dir, 'catalog.json'), JSON.stringify({ J01C: { nme: 'typo' } }));
  assert.match((await loadError(path)).message, /catalog\.json: J01C: unknown key 'nme'/);
  config.labels.file = 'absent.json';
  assert.match((await loadError(tempMapping(config))).message, /labels\.file: file not found/);
});

test('namespace collisions and bad FHIRPath are refused at load time', async () => {
  const collide = structuredClone(basic) as { diagnoses: { systems: Array<Record<string, unknown>> } };
  collide.diagnoses.systems.push({ system: 'http://snomed.info/sct', namespace: 'icd10' });
  assert.match((await loadError(tempMapping(collide))).message, /diagnoses\.systems\[2\]\.namespace: namespace 'icd10' is already used/);
  const badPath = structuredClone(basic) as { profile: { fields: Array<Record<string, unknown>> } };
  badPath.profile.fields[0]!.fhirpath = 'maritalStatus.coding.where(';
  assert.match((await loadError(tempMapping(badPath))).message, /profile\.fields\[0\]\.fhirpath: invalid FHIRPath/);
});

test('interaction pairs come from a CSV file as well as inline', async () => {
  const config = structuredClone(basic) as { interactions: Record<string, unknown> };
  config.interactions = { file: 'ddi.csv', columns: ['a', 'b'], pairs: [['X01A', 'X02A']] };
  const path = tempMapping(config);
  writeFileSync(join(resolve(path, '..'), 'ddi.csv'), 'a,b\nN02B,M01A\nM01A,N02B\nB01A,M01A\n');
  const m = await loadMapping(path);
  assert.equal(m.interactionPairs().length, 3, 'pairs are unordered and deduplicated');
  assert.ok(m.interacts('M01A', 'B01A') && m.interacts('X02A', 'X01A'));
});

test('the shipped mappings validate (their data files may live in ../shared)', async () => {
  const { MappingConfig } = await import('../../src/mapping/schema.ts');
  for (const name of ['mimic-iv-demo.json', 'synthea.json']) {
    const text = readFileSync(resolve(import.meta.dirname, '../../mappings', name), 'utf8');
    const parsed = MappingConfig.safeParse(JSON.parse(text));
    assert.ok(parsed.success, `${name}: ${parsed.success ? '' : parsed.error.message}`);
  }
});
