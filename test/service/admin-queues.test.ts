// The retraining queue dashboard (bull-board) on a running service, over a real Redis: mounted at /admin/queues
// only when admin.queues.redis is set, behind the admin authentication, listing the pipeline's queues.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { openQueues, type Queues } from '../../src/retrain/bull-executor.ts';
import { hashAdminPassword } from '../../src/service/auth/admin.ts';
import { projectRoot, ServiceConfigSchema } from '../../src/service/config.ts';
import { startService, type RunningService } from '../../src/service/server.ts';
import { redisAvailable, REDIS_SKIP, startRedis, type RedisHandle } from '../helpers/redis.ts';

const skip = redisAvailable() ? false : REDIS_SKIP;
const PASSWORD = 'queue watcher password';
let tmp: string;
let redis: RedisHandle | undefined;
const running: RunningService[] = [];
let queues: Queues | undefined;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'admin-queues-'));
  if (!skip) redis = await startRedis();
});

after(async () => {
  for (const s of running) await s.shutdown();
  await queues?.close();
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function start(extra: Record<string, unknown>): Promise<RunningService> {
  const { publicKey } = await generateKeyPair('ES384', { extractable: true });
  const config = ServiceConfigSchema.parse({
    server: { port: 0, baseUrl: 'https://cds.example.org' },
    auth: { mode: 'jwt', issuers: [{ iss: 'https://ehr.example.org', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES384' }] } }] },
    services: { definitionsDir: join(projectRoot, 'cds-hooks') },
    feedback: { db: join(tmp, `feedback-${running.length}.sqlite`) },
    log: { level: 'silent' },
    ...extra,
  });
  const service = await startService(config, { logger: pino({ level: 'silent' }), defaultMetrics: false, loadServices: async () => [] });
  running.push(service);
  return service;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('the dashboard lists the retraining queues to an admin and refuses anyone else', { skip }, async () => {
  queues = openQueues({ redisUrl: redis!.url, prefix: 'dash' });
  await queues.tasks.add('task', { root: '/nowhere', stage: 'partition', key: 'k1', params: {}, inputs: {} }, { jobId: 'waiting-task' });
  const service = await start({ admin: { users: [{ name: 'ops', passwordHash: hashAdminPassword(PASSWORD, { N: 2 ** 14 }) }], queues: { redis: redis!.url, prefix: 'dash' } } });

  const refused = await fetch(`${service.url}/admin/queues/api/queues`);
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic /);
  assert.equal(((await refused.json()) as { resourceType: string }).resourceType, 'OperationOutcome');
  assert.equal((await fetch(`${service.url}/admin/queues/`, { headers: { authorization: basic('ops', 'not the password') } })).status, 401);

  const page = await fetch(`${service.url}/admin/queues/`, { headers: { authorization: basic('ops', PASSWORD) } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /leader-cds retraining/);
  const api = await fetch(`${service.url}/admin/queues/api/queues`, { headers: { authorization: basic('ops', PASSWORD) } });
  assert.equal(api.status, 200);
  const body = (await api.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
  assert.deepEqual(body.queues.map((q) => q.name).sort(), ['retrain-runs', 'retrain-tasks']);
  assert.equal(body.queues.find((q) => q.name === 'retrain-tasks')!.counts.waiting, 1, 'the waiting task shows');
});

test('without admin.queues there is no dashboard', async () => {
  const service = await start({});
  const res = await fetch(`${service.url}/admin/queues/api/queues`, { headers: { authorization: basic('ops', PASSWORD) } });
  assert.equal(res.status, 404);
});
