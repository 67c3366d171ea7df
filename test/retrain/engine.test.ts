import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore, artifactKey, stableStringify } from '../../src/retrain/artifacts.ts';
import { InlineExecutor, runPlan, StageRegistry, type RunEvent } from '../../src/retrain/engine.ts';
import { BullExecutor, openQueues, processTasks } from '../../src/retrain/bull-executor.ts';
import { redisAvailable, REDIS_SKIP, startRedis } from '../helpers/redis.ts';
import { runs, wordPlan, wordRegistry } from './fixtures/word-stages.ts';

const TEXT = Array.from({ length: 120 }, (_, i) => `w${i}`).join(' ');
const roots: string[] = [];
async function freshStore() {
  const root = await mkdtemp(join(tmpdir(), 'retrain-store-'));
  roots.push(root);
  return new ArtifactStore(root);
}
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

test('keys are stable under key order and change with parameters and inputs', () => {
  assert.equal(stableStringify({ b: 1, a: [2, { d: 3, c: 4 }] }), stableStringify({ a: [2, { c: 4, d: 3 }], b: 1 }));
  const k = artifactKey('s', 1, { a: 1 }, ['x=s/1']);
  assert.equal(k, artifactKey('s', 1, { a: 1 }, ['x=s/1']));
  assert.notEqual(k, artifactKey('s', 1, { a: 2 }, ['x=s/1']));
  assert.notEqual(k, artifactKey('s', 2, { a: 1 }, ['x=s/1']));
  assert.notEqual(k, artifactKey('s', 1, { a: 1 }, ['x=s/2']));
});

test('inline run computes the plan, and a second run skips every finished stage', async () => {
  const store = await freshStore();
  const registry = wordRegistry();
  const events: RunEvent[] = [];
  const before = { ...runs };
  const results = await runPlan(wordPlan(TEXT, 4), registry, store, new InlineExecutor(registry, store), (e) => events.push(e));
  assert.deepEqual(results.get('sum')!.outputs[0], { total: 120 });
  assert.equal(results.get('count')!.outputs.length, 4);
  assert.equal(runs.count - before.count, 4);
  assert.ok(events.some((e) => e.type === 'task-progress' && e.fraction === 1));
  const again: RunEvent[] = [];
  await runPlan(wordPlan(TEXT, 4), registry, store, new InlineExecutor(registry, store), (e) => again.push(e));
  assert.equal(again.filter((e) => e.type === 'stage-skip').length, 3);
  assert.equal(runs.count - before.count, 4, 'nothing ran twice');
});

test('a stage that fails leaves no artifact, and the next run does it again', async () => {
  const store = await freshStore();
  let fail = true;
  const registry = new StageRegistry().add({
    name: 'flaky',
    version: 1,
    async run(_p, _i, ctx) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(ctx.dir, 'half.txt'), 'half');
      if (fail) throw new Error('boom');
      return { ok: true };
    },
  });
  const plan = [{ id: 'flaky', stage: 'flaky', params: {} }];
  await assert.rejects(runPlan(plan, registry, store, new InlineExecutor(registry, store)), /boom/);
  assert.deepEqual(await readdir(join(store.root, 'flaky')), [], 'the temporary folder is gone');
  fail = false;
  const results = await runPlan(plan, registry, store, new InlineExecutor(registry, store));
  assert.deepEqual(results.get('flaky')!.outputs[0], { ok: true });
});

test('bull: two workers share the fanned-out tasks and agree with the inline run', { skip: redisAvailable() ? false : REDIS_SKIP }, async () => {
  const redis = await startRedis();
  const store = await freshStore();
  const registry = wordRegistry();
  const prefix = `t${Date.now()}`;
  const coordinator = openQueues({ redisUrl: redis.url, prefix });
  const w1 = openQueues({ redisUrl: redis.url, prefix });
  const w2 = openQueues({ redisUrl: redis.url, prefix });
  try {
    processTasks(w1, registry, store, 1);
    processTasks(w2, registry, store, 1);
    const seen = new Set<string>();
    w1.tasks.on('active', () => seen.add('w1'));
    w2.tasks.on('active', () => seen.add('w2'));
    const events: RunEvent[] = [];
    const results = await runPlan(wordPlan(TEXT, 6, 300), registry, store, new BullExecutor(coordinator), (e) => events.push(e));
    assert.deepEqual(results.get('sum')!.outputs[0], { total: 120 });
    assert.deepEqual(seen, new Set(['w1', 'w2']), 'both workers took tasks');
    assert.ok(events.some((e) => e.type === 'task-progress'), 'task progress reaches the coordinator');
  } finally {
    await Promise.all([coordinator.close(), w1.close(), w2.close()]);
    await redis.stop();
  }
});

test('bull: a worker killed mid-task leaves it to another worker', { skip: redisAvailable() ? false : REDIS_SKIP }, async () => {
  const redis = await startRedis();
  const store = await freshStore();
  const registry = wordRegistry();
  const prefix = `k${Date.now()}`;
  const coordinator = openQueues({ redisUrl: redis.url, prefix, lockDurationMs: 1500, stalledIntervalMs: 500 });
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'worker.ts'), redis.url, prefix, store.root], { stdio: ['ignore', 'pipe', 'inherit'] });
  let survivor: ReturnType<typeof openQueues> | undefined;
  try {
    // The split stage runs inline first so that only the slow count tasks go to the queue.
    await runPlan(wordPlan(TEXT, 1, 0).slice(0, 1), registry, store, new InlineExecutor(registry, store));
    const run = runPlan(wordPlan(TEXT, 1, 4000), registry, store, new BullExecutor(coordinator));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the child worker never took the task')), 20_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('active')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    survivor = openQueues({ redisUrl: redis.url, prefix, lockDurationMs: 1500, stalledIntervalMs: 500 });
    processTasks(survivor, registry, store, 1);
    const results = await run;
    assert.deepEqual(results.get('sum')!.outputs[0], { total: 120 });
  } finally {
    child.kill('SIGKILL');
    await Promise.all([coordinator.close(), survivor?.close()]);
    await redis.stop();
  }
});

test('bull: Redis restarting empty mid-run loses no work, and Redis staying away stops the run with a clear error', { skip: redisAvailable() ? false : REDIS_SKIP }, async () => {
  const redis = await startRedis();
  const store = await freshStore();
  const registry = wordRegistry();
  const prefix = `r${Date.now()}`;
  const settings = { redisUrl: redis.url, prefix, pollMs: 200, redisDownTimeoutMs: 4000, lockDurationMs: 2000, stalledIntervalMs: 1000 };
  const coordinator = openQueues(settings);
  const worker = openQueues(settings);
  let again: Awaited<ReturnType<typeof startRedis>> | undefined;
  try {
    processTasks(worker, registry, store, 2);
    const run = runPlan(wordPlan(TEXT, 4, 1500), registry, store, new BullExecutor(coordinator));
    await new Promise((r) => setTimeout(r, 1000));
    await redis.stop();
    again = await startRedis(redis.port); // same port, no data: every job is forgotten
    const results = await run;
    assert.deepEqual(results.get('sum')!.outputs[0], { total: 120 });
  } finally {
    await Promise.all([coordinator.close(), worker.close()]);
    await again?.stop();
  }
  const gone = await startRedis();
  const lonely = openQueues({ ...settings, redisUrl: gone.url, prefix: `g${Date.now()}` });
  try {
    const plan = wordPlan(`${TEXT} extra`, 2, 0);
    const run = runPlan(plan, registry, await freshStore(), new BullExecutor(lonely));
    await new Promise((r) => setTimeout(r, 300));
    await gone.stop();
    await assert.rejects(run, /unreachable for 4 s/);
  } finally {
    await lonely.close();
  }
});

test('bull: the same plan in another work dir is new work, not a finished job', { skip: redisAvailable() ? false : REDIS_SKIP }, async () => {
  const redis = await startRedis();
  const registry = wordRegistry();
  const settings = { redisUrl: redis.url, prefix: `w${Date.now()}`, pollMs: 100 };
  const coordinator = openQueues(settings);
  const worker = openQueues(settings);
  try {
    processTasks(worker, registry, undefined, 1);
    for (const store of [await freshStore(), await freshStore()]) {
      const results = await runPlan(wordPlan(TEXT, 2), registry, store, new BullExecutor(coordinator));
      assert.deepEqual(results.get('sum')!.outputs[0], { total: 120 });
    }
  } finally {
    await Promise.all([coordinator.close(), worker.close()]);
    await redis.stop();
  }
});
