// End to end on loopback: the Bulk Data test server exports a synthetic cohort with backend-services auth, two
// `leader-cds worker` processes run the pipeline from Redis, and the candidate is evaluated, gated and promoted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { writeCohort } from '../../src/synth/generator.ts';
import { startBulkTestServer, type BulkTestServer } from '../../src/bulk/test-server.ts';
import { openQueues } from '../../src/retrain/bull-executor.ts';
import { parseRetrainConfig } from '../../src/retrain/config.ts';
import type { RetrainResult } from '../../src/retrain/run.ts';
import { ModelRegistry } from '../../src/retrain/registry.ts';
import { redisAvailable, REDIS_SKIP, startRedis, type RedisHandle } from '../helpers/redis.ts';

const ROOT = join(import.meta.dirname, '../..');
const skip = redisAvailable() ? false : REDIS_SKIP;
let tmp: string;
let redis: RedisHandle | undefined;
let server: BulkTestServer | undefined;
const workers: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(join(tmpdir(), 'retrain-bull-'));
  await writeCohort({ seed: 21, patients: 150, out: join(tmp, 'source'), maxEncounters: 6 });
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  await writeFile(join(tmp, 'client-key.json'), JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'e2e', alg: 'ES384' }));
  server = await startBulkTestServer({
    dataDir: join(tmp, 'source'),
    clients: [{ clientId: 'leader-cds-retrain', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'e2e', alg: 'ES384' }] } }],
    maxLinesPerFile: 600,
    faults: { pollsBeforeReady: 2, retryAfterSeconds: 0 },
  });
  redis = await startRedis();
});

after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await server?.close();
  await redis?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function startWorker(redisUrl: string): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin/leader-cds.js'), 'worker', '--redis', redisUrl, '--concurrency', '1'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') process.stderr.write(`worker exited ${code}: ${log.slice(-2000)}\n`);
  });
  workers.push(child);
  return child;
}

test('bulk export with backend-services auth -> bull pipeline on two workers -> candidate evaluated and promoted', { skip, timeout: 600_000 }, async () => {
  startWorker(redis!.url);
  startWorker(redis!.url);
  const config = parseRetrainConfig({
    source: {
      kind: 'bulk',
      baseUrl: server!.baseUrl,
      level: 'system',
      auth: { tokenUrl: server!.tokenUrl, clientId: 'leader-cds-retrain', keyFile: join(tmp, 'client-key.json'), scope: 'system/*.read' },
    },
    mapping: join(ROOT, 'mappings/synthetic.json'),
    workDir: join(tmp, 'work'),
    registry: join(tmp, 'models'),
    partitions: 4,
    student: { epochs: 3, dim: 16, patience: 3 },
    evaluation: { rounds: 2, baselines: ['most-frequent'] },
    snapshot: 'e2e',
    modelVersion: 'e2e-candidate',
  });
  const queues = openQueues({ redisUrl: redis!.url });
  const progress: string[] = [];
  queues.runs.on('global:progress', (_id: string, p: unknown) => progress.push((p as { type: string }).type));
  try {
    const job = await queues.runs.add('run', config, { attempts: 1 });
    const result = (await job.finished()) as RetrainResult;
    assert.equal(result.candidate, 'e2e-candidate');
    assert.equal(result.promoted, true, result.decision.reasons.join('; '));
    assert.ok(result.dataset.patients > 100);
    const tasks = await queues.tasks.getCompleted(0, 100);
    const stages = new Set(tasks.map((t) => t.data.stage));
    for (const s of ['export', 'partition', 'build-shard', 'merge-dataset', 'distil', 'evaluate']) assert.ok(stages.has(s), `${s} ran as a bull task`);
    const partitionTasks = tasks.filter((t) => t.data.stage === 'partition');
    assert.ok(partitionTasks.length >= 5, `one partition task per exported file (${partitionTasks.length})`);
    assert.ok(server!.stats.tokens >= 1 && server!.stats.downloads >= partitionTasks.length);
    assert.ok(progress.includes('stage-end') && progress.includes('promoted'), 'run progress reaches the enqueuer');
  } finally {
    await queues.close();
  }
  const registry = new ModelRegistry(join(tmp, 'models'));
  assert.equal((await registry.currentDir())?.version, 'e2e-candidate');
  const manifest = JSON.parse(await readFile(join(tmp, 'models', 'e2e-candidate', 'manifest.json'), 'utf8')) as { modelVersion: string };
  assert.equal(manifest.modelVersion, 'e2e-candidate');
});
