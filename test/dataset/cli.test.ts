import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/temp-dir.ts';
import { join, resolve } from 'node:path';
import { readDataset } from '../../src/dataset/io.ts';
import { generateCohort } from '../fixtures/cohort.ts';

const root = resolve(import.meta.dirname, '../..');
const fixtures = join(root, 'test/fixtures');
const mapping = join(fixtures, 'mappings/basic.json');

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [join(root, 'bin/leader-cds.js'), ...args], { encoding: 'utf8', cwd: root });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const input = tempDir('leader-cli-');
writeFileSync(join(input, 'export.ndjson'), generateCohort(5, 25).all.map((r) => JSON.stringify(r)).join('\n') + '\n');

test('mapping check prints a table, or JSON with --json', () => {
  const table = cli('mapping', 'check', '--mapping', mapping, '--input', input, '--top', '3');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /patients\s+25/);
  assert.match(table.stdout, /medications(\s+\d+){5}\.\d%/);
  const json = cli('mapping', 'check', '--mapping', mapping, '--input', input, '--json');
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { patients: number; medications: { share: number } };
  assert.equal(report.patients, 25);
  assert.ok(report.medications.share > 0);
});

test('dataset build writes a readable dataset and prints its summary', async () => {
  const out = join(tempDir('leader-cli-out-'), 'train.jsonl');
  const run = cli('dataset', 'build', '--mapping', mapping, '--input', input, '--out', out, '--json');
  assert.equal(run.code, 0, run.stderr);
  const printed = JSON.parse(run.stdout) as { summary: { encounters: number; fingerprint: string } };
  const dataset = await readDataset(out);
  assert.equal(dataset.summary.fingerprint, printed.summary.fingerprint);
  assert.equal(dataset.records.length, printed.summary.encounters);
  assert.ok(dataset.records.length > 0);
  assert.ok(dataset.records.every((r) => r.labels.length > 0 && r.diagnoses.length > 0));
  // The header carries what the mapping's tokens and labels mean, for the model manifest and serve's check.
  const { loadMapping } = await import('../../src/mapping/load.ts');
  const { mappingFingerprint } = await import('../../src/mapping/fingerprint.ts');
  assert.equal(dataset.header.mappingFingerprint, mappingFingerprint((await loadMapping(mapping)).config));
  const text = cli('dataset', 'build', '--mapping', mapping, '--input', join(fixtures, 'bulk-bad'), '--out', out);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /encounters \(records\):\s+1/);
  assert.match(text.stdout, /input issues \(16\):/);
  assert.match(text.stdout, /export-1\.ndjson:3: /);
});

test('bad mapping, bad folder and bad options exit non-zero with a message naming the file', () => {
  const typo = cli('mapping', 'check', '--mapping', join(fixtures, 'mappings/typo.json'), '--input', input);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /typo\.json: diagnoses: unknown key 'withoutEncouter' \(did you mean 'withoutEncounter'\?\)/);
  assert.doesNotMatch(typo.stderr, /at .*\.ts:\d+/, 'no stack trace');
  const folder = cli('dataset', 'build', '--mapping', mapping, '--input', join(input, 'nope'), '--out', join(input, 'x.jsonl'));
  assert.equal(folder.code, 2);
  assert.match(folder.stderr, /nope: folder not found/);
  assert.equal(existsSync(join(input, 'x.jsonl')), false, 'no half-written dataset is left behind');
  const out = cli('dataset', 'build', '--mapping', mapping, '--input', input, '--out', join(input, 'no-such-dir', 'x.jsonl'));
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--out: .*no-such-dir\/x\.jsonl: cannot write: ENOENT/);
  const override = cli('mapping', 'check', '--mapping', mapping, '--input', input, '--concept-map', 'drug-names');
  assert.equal(override.code, 2);
  assert.match(override.stderr, /expected name=path/);
});
