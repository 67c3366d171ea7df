// `leader-cds retrain --redis` against a real `leader-cds worker` process: a run with the teacher stages completes
// on the worker (the teacher trains in a thread inside the bull worker); a run that fails on the worker is a
// one-line error naming the run and the reason (exit 1), never a stack trace; the worker keeps running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCohort } from '../../src/synth/generator.ts';
import { REDIS_SKIP, redisAvailable, startRedis, type RedisHandle } from '../helpers/redis.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/leader-cds.js');
const skip = redisAvailable() ? false : REDIS_SKIP;
let tmp: string;
let redis: RedisHandle | undefined;
let worker: ChildProcess | undefined;

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(join(tmpdir(), 'retrain-redis-cli-'));
  await writeCohort({ seed: 9, patients: 30, out: join(tmp, 'fhir'), maxEncounters: 3 });
  redis = await startRedis();
  worker = spawn(process.execPath, [BIN, 'worker', '--redis', redis.url], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
});
after(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker!.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'retrain', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const TINY_SCRATCH = { hidden: 16, layers: 1, kvHeads: 1, context: 384, vocab: 600, pretrainSteps: 2 };

test('a run with the teacher stages completes on a worker process: teacher, features, distilled candidate', { skip, timeout: 300_000 }, async () => {
  const config = join(tmp, 'retrain-ok.json');
  await writeFile(
    config,
    JSON.stringify({
      source: { kind: 'folder', path: join(tmp, 'fhir') },
      mapping: join(ROOT, 'mappings/synthetic.json'),
      workDir: join(tmp, 'work-ok'),
      registry: join(tmp, 'models-ok'),
      partitions: 2,
      student: { epochs: 2, dim: 16, patience: 2 },
      evaluation: { rounds: 2, baselines: ['most-frequent'] },
      teacher: { enabled: true, steps: 3, batchSize: 4, accumulation: 1, maxTokens: 384, scratch: TINY_SCRATCH, featureBatchSize: 16, backend: 'cpu' },
    }),
  );
  const r = await run(['--config', config, '--mapping', join(ROOT, 'mappings/synthetic.json'), '--redis', redis!.url, '--no-promote']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^teacher: scratch, .*trained on \d+ records/m);
  assert.match(r.stdout, /^candidate \S+: /m);
  for (const stage of ['teacher', 'teacher-features', 'distil', 'evaluate']) assert.match(r.stderr, new RegExp(`${stage}\\b`), `${stage} reported`);
  assert.equal(worker!.exitCode, null, 'the worker is still running');
});

test('a run that fails on a worker: exit 1, the run and its reason on one line, no stack trace', { skip }, async () => {
  const config = join(tmp, 'retrain.json');
  // A prompt budget of 16 tokens cannot hold any encounter: the teacher stage fails on the worker, for good.
  await writeFile(
    config,
    JSON.stringify({
      source: { kind: 'folder', path: join(tmp, 'fhir') },
      mapping: join(ROOT, 'mappings/synthetic.json'),
      workDir: join(tmp, 'work'),
      registry: join(tmp, 'models'),
      partitions: 1,
      teacher: { enabled: true, steps: 1, maxTokens: 16, scratch: { hidden: 16, layers: 1, kvHeads: 1, context: 16, vocab: 300, pretrainSteps: 0 }, backend: 'cpu' },
    }),
  );
  const r = await run(['--config', config, '--mapping', join(ROOT, 'mappings/synthetic.json'), '--redis', redis!.url]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /leader-cds: run \S+ failed on a worker: .*teacher/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(worker!.exitCode, null, 'the worker is still running');
});
