import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDataset } from '../../src/dataset/io.ts';
import type { EvaluationReport } from '../../src/eval/harness.ts';
import { runEvaluate, type EvaluateCommandOptions } from '../../src/cli/commands/evaluate.ts';
import { CliError } from '../../src/cli/errors.ts';
import { syntheticDataset } from './fixtures/synthetic-dataset.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = (args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/leader-cds.js'), ...args], { encoding: 'utf8', cwd: root });

const dir = mkdtempSync(path.join(tmpdir(), 'leader-eval-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function datasetFile(): Promise<string> {
  const file = path.join(dir, 'dataset.jsonl');
  if (existsSync(file)) return file;
  const ds = syntheticDataset({ patients: 150, seed: 21 });
  await writeDataset(file, { mapping: 'eval-test', labelSpace: 'synthetic' }, ds.records, ds.names);
  return file;
}

function mappingFile(): string {
  const file = path.join(dir, 'mapping.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'eval-test',
      diagnoses: { systems: [{ system: 'urn:test:icd', namespace: 'icd' }] },
      procedures: { systems: [{ system: 'urn:test:pcs', namespace: 'pcs' }] },
      medications: { labelSpace: 'synthetic', sources: [{ kind: 'coding', system: 'urn:test:labels' }] },
      interactions: { pairs: [['L000', 'L001'], ['L002', 'L003'], ['L000', 'L002']] },
    }),
  );
  return file;
}

test('evaluate writes report.json, report.html and report.md and prints the table', async () => {
  const out = path.join(dir, 'out');
  const r = cli(['evaluate', '--dataset', await datasetFile(), '--mapping', mappingFile(), '--methods', 'most-frequent,previous', '--folds', '3', '--rounds', '4', '--out', out, '--no-progress']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /All patients: 150 test samples/);
  assert.match(r.stdout, /most-frequent/);
  const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as EvaluationReport;
  assert.equal(report.format, 'leader-evaluation');
  assert.equal(report.protocol, 'last');
  assert.equal(report.ddi, true);
  assert.deepEqual(report.split, { kind: 'k-fold', folds: 3, validationFraction: 0.1 });
  assert.deepEqual(report.methods.map((m) => m.name), ['most-frequent', 'previous']);
  assert.ok(report.groundTruth.overall.ddiRate !== null);
  assert.ok(readFileSync(path.join(out, 'report.html'), 'utf8').includes('<table>'));
  assert.match(readFileSync(path.join(out, 'report.md'), 'utf8'), /\| previous \|/);
});

test('evaluate exits non-zero with a message naming the file when the dataset is missing', () => {
  const missing = cli(['evaluate', '--dataset', path.join(dir, 'nope.jsonl'), '--no-progress']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.jsonl: file not found/);
});

test('evaluate rejects bad options and bad dataset lines with clear errors', async () => {
  const base = { methods: 'most-frequent', validation: '0.1', rounds: '2', seed: '1', protocol: 'last', out: path.join(dir, 'unused'), progress: false };
  const dataset = await datasetFile();
  const rejects = (opts: Partial<EvaluateCommandOptions>, message: RegExp) =>
    assert.rejects(runEvaluate({ ...base, dataset, ...opts }), (err: unknown) => {
      assert.ok(err instanceof CliError, String(err));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
      return true;
    });
  await rejects({ methods: 'most-frequent,gamenet' }, /--methods: unknown method "gamenet"/);
  await rejects({ folds: '5', split: '0.8,0.1,0.1' }, /either --folds or --split/);
  await rejects({ split: '0.8,0.2' }, /--split: expected train,validation,test/);
  await rejects({ folds: '1' }, /--folds: expected an integer >= 2/);
  await rejects({ protocol: 'first' }, /--protocol: expected last or all/);
  await rejects({ rounds: 'ten' }, /--rounds: expected an integer/);
  await rejects({ folds: '500' }, /dataset\.jsonl: cannot make 500 folds from 150 patient/);
  await rejects({ mapping: path.join(dir, 'no-mapping.json') }, /--mapping: .*no-mapping\.json: mapping file not found/);

  const badLine = path.join(dir, 'bad.jsonl');
  const lines = readFileSync(dataset, 'utf8').split('\n');
  lines[3] = '{"type":"record","patientId":7}';
  writeFileSync(badLine, lines.join('\n'));
  await rejects({ dataset: badLine }, /bad\.jsonl:4: /);
});

test('evaluate --help names every registered method', async () => {
  const { METHOD_NAMES } = await import('../../src/eval/registry.ts');
  const r = cli(['evaluate', '--help']);
  assert.equal(r.status, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, ' ');
  for (const name of METHOD_NAMES) assert.match(help, new RegExp(`[ :,]${name}[,;]`), `--methods help lacks ${name}`);
});
