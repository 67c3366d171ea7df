// The synth command's output: deterministic bytes, bulk-export file layout, gzip, the mapping artefacts kept in
// step with facts.ts, and clear errors for bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { MappingConfig } from '../../src/mapping/schema.ts';
import { ATC3_NAMES } from '../../src/synth/atc-classes.ts';
import { atc3Catalog, mappingArtifacts } from '../../src/synth/artifacts.ts';
import { INGREDIENTS, INTERACTIONS } from '../../src/synth/facts.ts';
import { generatePatients, RESOURCE_TYPES, writeCohort } from '../../src/synth/generator.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'synth-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function readAll(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const f of readdirSync(dir).sort()) out[f] = readFileSync(join(dir, f));
  return out;
}

describe('synth output files', () => {
  test('same seed gives the same bytes, another seed differs', async () => {
    await writeCohort({ seed: 7, patients: 40, out: join(work, 'a') });
    await writeCohort({ seed: 7, patients: 40, out: join(work, 'b') });
    await writeCohort({ seed: 8, patients: 40, out: join(work, 'c') });
    const a = readAll(join(work, 'a'));
    assert.deepEqual(Object.keys(a), ['Condition.000.ndjson', 'Encounter.000.ndjson', 'Medication.000.ndjson', 'MedicationRequest.000.ndjson', 'Patient.000.ndjson', 'Procedure.000.ndjson', 'generation.json']);
    assert.deepEqual(readAll(join(work, 'b')), a);
    const c = readAll(join(work, 'c'));
    assert.notDeepEqual(c['MedicationRequest.000.ndjson'], a['MedicationRequest.000.ndjson']);
    assert.notDeepEqual(c['Patient.000.ndjson'], a['Patient.000.ndjson']);
  });

  test('files hold one resource per line of their type; generation.json counts them', () => {
    const dir = join(work, 'a');
    const summary = JSON.parse(readFileSync(join(dir, 'generation.json'), 'utf8'));
    assert.equal(summary.seed, 7);
    assert.equal(summary.patients, 40);
    for (const type of RESOURCE_TYPES) {
      const lines = readFileSync(join(dir, `${type}.000.ndjson`), 'utf8').split('\n');
      assert.equal(lines.pop(), '', `${type}: file ends with a newline`);
      assert.equal(lines.length, summary.counts[type], `${type} count`);
      for (const line of lines) assert.equal(JSON.parse(line).resourceType, type);
    }
    assert.equal(summary.counts.Patient, 40);
    assert.ok(summary.counts.MedicationRequest > 40);
  });

  test('the files hold exactly what the in-memory API yields', () => {
    const fromApi = [...generatePatients({ seed: 7, patients: 40 })].flatMap((p) => p.resources).filter((r) => r.resourceType === 'Condition');
    const fromFile = readFileSync(join(work, 'a', 'Condition.000.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(fromFile, fromApi);
    // A slice of the cohort is the same patients as in the whole cohort.
    const slice = [...generatePatients({ seed: 7, patients: 2, start: 10 })].map((p) => p.patient);
    const whole = [...generatePatients({ seed: 7, patients: 12 })].map((p) => p.patient).slice(10);
    assert.deepEqual(slice, whole);
  });

  test('--gzip writes the same content compressed', async () => {
    await writeCohort({ seed: 7, patients: 40, out: join(work, 'gz'), gzip: true });
    for (const type of RESOURCE_TYPES) {
      const plain = readFileSync(join(work, 'a', `${type}.000.ndjson`));
      const gz = readFileSync(join(work, 'gz', `${type}.000.ndjson.gz`));
      assert.deepEqual(gunzipSync(gz), plain, type);
    }
  });

  test('bad options are refused', () => {
    assert.throws(() => generatePatients({ seed: 1.5, patients: 1 }).next(), /seed must be an integer/);
    assert.throws(() => generatePatients({ seed: 1, patients: -1 }).next(), /patients/);
    assert.throws(() => generatePatients({ seed: 1, patients: 1, maxEncounters: 0 }).next(), /maxEncounters/);
  });

  test('--max-encounters caps every patient', () => {
    for (const { resources } of generatePatients({ seed: 3, patients: 200, maxEncounters: 2 })) {
      assert.ok(resources.filter((r) => r.resourceType === 'Encounter').length <= 2);
    }
  });
});

describe('mapping artefacts', () => {
  test('the committed CSVs and catalog are exactly what facts.ts generates (npm run synth:facts)', () => {
    for (const [rel, content] of Object.entries(mappingArtifacts())) {
      assert.equal(readFileSync(join(root, 'mappings', rel), 'utf8'), content, `mappings/${rel} is stale: run npm run synth:facts`);
    }
  });

  test('ATC codes are well formed, every cohort class has a name and an orderable, interactions use cohort classes', () => {
    const catalog = atc3Catalog();
    const classes = new Set(Object.values(INGREDIENTS).map((f) => f.atc.slice(0, 4)));
    for (const f of Object.values(INGREDIENTS)) {
      assert.match(f.atc, /^[A-Z]\d\d[A-Z][A-Z]\d\d$/, f.name);
      assert.match(f.rxcui, /^\d+$/, f.name);
    }
    assert.equal(new Set(Object.values(INGREDIENTS).map((f) => f.rxcui)).size, Object.keys(INGREDIENTS).length, 'duplicate RXCUI');
    for (const c of classes) {
      assert.ok(catalog[c]?.name, `${c} has no name`);
      assert.ok(catalog[c]?.orderable, `${c} has no orderable`);
      assert.equal(INGREDIENTS[Object.keys(INGREDIENTS).find((k) => INGREDIENTS[k as keyof typeof INGREDIENTS].rxcui === catalog[c]!.orderable!.code) as keyof typeof INGREDIENTS].atc.slice(0, 4), c);
    }
    for (const code of Object.keys(ATC3_NAMES)) assert.match(code, /^[A-Z]\d\d[A-Z]$/);
    for (const [a, b] of INTERACTIONS) assert.ok(classes.has(a) && classes.has(b) && a !== b, `${a}-${b}`);
  });

  test('mappings/synthetic.json validates against the mapping schema and its files exist', () => {
    const path = join(root, 'mappings', 'synthetic.json');
    const config = MappingConfig.parse(JSON.parse(readFileSync(path, 'utf8')));
    assert.equal(config.medications.labelSpace, 'atc3');
    const files = [config.labels.file, config.interactions.file, ...config.medications.sources.map((s) => (s.kind === 'concept-map' ? s.file : undefined))];
    for (const f of files) if (f) assert.ok(existsSync(join(dirname(path), f)), `${f} missing`);
  });
});

describe('synth command', () => {
  const cli = join(root, 'bin', 'leader-cds.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'synth', ...args], { encoding: 'utf8' });

  test('writes the folder and prints a one-line summary', () => {
    const out = join(work, 'cli');
    const r = run('--patients', '15', '--seed', '4', '--out', out, '--gzip');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^synth: 15 patients, \d+ encounters, .* \(seed 4, /);
    assert.ok(existsSync(join(out, 'MedicationRequest.000.ndjson.gz')));
    assert.equal(JSON.parse(readFileSync(join(out, 'generation.json'), 'utf8')).gzip, true);
  });

  test('bad arguments fail with a message and a non-zero exit', () => {
    const bad = run('--patients', 'ten', '--out', join(work, 'bad'));
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--patients must be an integer/);
    const full = join(work, 'full');
    mkdirSync(full, { recursive: true });
    writeFileSync(join(full, 'Patient.000.ndjson'), '');
    writeFileSync(join(work, 'full-marker'), '');
    const again = run('--patients', '2', '--out', full);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /is not empty/);
    const notDir = run('--patients', '2', '--out', join(work, 'full-marker'));
    assert.notEqual(notDir.status, 0);
    assert.match(notDir.stderr, /not a folder/);
  });
});
