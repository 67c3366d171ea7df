// `leader-cds retrain` with the teacher: bad input is a one-line error with exit 2, a teacher that cannot be trained
// (a prompt budget too small for the records) a one-line error with exit 1, never a stack trace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCohort } from '../../src/synth/generator.ts';

const ROOT = join(import.meta.dirname, '../..');
let tmp: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'retrain-teacher-cli-'));
  await writeCohort({ seed: 9, patients: 30, out: join(tmp, 'fhir'), maxEncounters: 3 });
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'bin/leader-cds.js'), 'retrain', '--inline', '--work-dir', join(tmp, 'work'), '--registry', join(tmp, 'models'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

test('a teacher checkpoint folder without config.json is refused before anything runs (exit 2)', async () => {
  await mkdir(join(tmp, 'not-a-checkpoint'), { recursive: true });
  const r = cli(['--input', join(tmp, 'fhir'), '--teacher-checkpoint', join(tmp, 'not-a-checkpoint')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /teacher\.checkpoint .*not-a-checkpoint: no config\.json/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('a teacher that cannot be trained stops the run with the reason (exit 1)', async () => {
  const config = join(tmp, 'retrain.json');
  await writeFile(
    config,
    JSON.stringify({
      source: { kind: 'folder', path: join(tmp, 'fhir') },
      mapping: join(ROOT, 'mappings/synthetic.json'),
      partitions: 1,
      teacher: { enabled: true, steps: 1, maxTokens: 16, scratch: { hidden: 16, layers: 1, kvHeads: 1, context: 16, vocab: 300, pretrainSteps: 0 }, backend: 'cpu' },
    }),
  );
  const r = cli(['--config', config, '--mapping', join(ROOT, 'mappings/synthetic.json')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /teacher training failed: PromptError: encounter .*the budget is 16/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
