import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { BackendServicesAuth, BulkAuthError } from '../../src/bulk/backend-auth.ts';
import { BulkDataClient, BulkExportError, parseRetryAfter } from '../../src/bulk/client.ts';
import type { ExportEvent } from '../../src/bulk/events.ts';
import { startBulkTestServer, type BulkTestFaults, type BulkTestServer } from '../../src/bulk/test-server.ts';

let dataDir: string;
let workDir: string;
let privateJwk: JWK;
let publicJwk: JWK;
const PATIENTS = 30;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'bulk-src-'));
  workDir = await mkdtemp(join(tmpdir(), 'bulk-out-'));
  const patients: string[] = [];
  const encounters: string[] = [];
  const conditions: string[] = [];
  for (let p = 0; p < PATIENTS; p++) {
    patients.push(JSON.stringify({ resourceType: 'Patient', id: `p${p}`, gender: p % 2 ? 'male' : 'female', meta: { lastUpdated: `2024-0${1 + (p % 9)}-01T00:00:00Z` } }));
    for (let e = 0; e < 3; e++) {
      encounters.push(JSON.stringify({ resourceType: 'Encounter', id: `e${p}-${e}`, status: 'finished', class: { code: 'IMP' }, subject: { reference: `Patient/p${p}` }, period: { start: `2024-01-0${e + 1}` } }));
      conditions.push(JSON.stringify({ resourceType: 'Condition', id: `c${p}-${e}`, subject: { reference: `Patient/p${p}` }, encounter: { reference: `Encounter/e${p}-${e}` }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10' }] } }));
    }
  }
  await writeFile(join(dataDir, 'Patient.ndjson'), patients.join('\n') + '\n');
  await writeFile(join(dataDir, 'Encounter.ndjson'), encounters.join('\n') + '\n');
  // A malformed line: the server reports it in an error file, the export goes on.
  await writeFile(join(dataDir, 'Condition.ndjson'), conditions.join('\n') + '\n{"resourceType": "Condition", broken\n');
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  privateJwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'ES384' };
  publicJwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES384', use: 'sig' };
});

after(async () => {
  await rm(dataDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

async function withServer(faults: BulkTestFaults, fn: (server: BulkTestServer) => Promise<void>, opts: { auth?: boolean; maxLinesPerFile?: number } = {}) {
  const server = await startBulkTestServer({
    dataDir,
    clients: opts.auth === false ? [] : [{ clientId: 'leader-cds', jwks: { keys: [publicJwk] } }],
    groups: { cohort: ['p0', 'p1', 'p2'] },
    maxLinesPerFile: opts.maxLinesPerFile ?? 40,
    faults: { retryAfterSeconds: 0, ...faults },
  });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function client(server: BulkTestServer, events: ExportEvent[] = [], extra: Partial<ConstructorParameters<typeof BulkDataClient>[0]> = {}) {
  const auth = new BackendServicesAuth({ tokenUrl: server.tokenUrl, clientId: 'leader-cds', privateKey: privateJwk, scope: 'system/*.read' });
  return new BulkDataClient({ baseUrl: server.baseUrl, auth, onEvent: (e) => events.push(e), minPollMs: 10, retryBaseMs: 10, ...extra });
}

async function out(name: string) {
  return mkdtemp(join(workDir, `${name}-`));
}

test('system export with backend-services auth downloads every line, reports progress and counts error issues', async () => {
  await withServer({ pollsBeforeReady: 2 }, async (server) => {
    const events: ExportEvent[] = [];
    const dir = await out('system');
    const result = await client(server, events).export({ level: 'system', types: ['Patient', 'Encounter', 'Condition'] }, dir);
    const lines = (type: string) => result.files.filter((f) => f.type === type).reduce((s, f) => s + f.lines, 0);
    assert.equal(lines('Patient'), PATIENTS);
    assert.equal(lines('Encounter'), PATIENTS * 3);
    assert.equal(lines('Condition'), PATIENTS * 3);
    assert.ok(result.files.filter((f) => f.type === 'Encounter').length >= 3, 'files are split by the server');
    assert.equal(result.errorIssues, 1);
    assert.ok(events.some((e) => e.type === 'status' && e.progress?.includes('%')));
    assert.equal(events.filter((e) => e.type === 'complete').length, 1);
    assert.equal(server.stats.tokens, 1, 'the token is cached across calls');
    const written = (await readdir(dir)).filter((n) => n.endsWith('.ndjson'));
    assert.equal(written.length, result.files.length);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { requiresAccessToken: boolean };
    assert.equal(manifest.requiresAccessToken, true);
  });
});

test('Retry-After is honoured between polls', async () => {
  await withServer({ pollsBeforeReady: 1, retryAfterSeconds: 1 }, async (server) => {
    const started = Date.now();
    const c = client(server);
    const status = await c.kickOff({ level: 'system', types: ['Patient'] });
    await c.waitForManifest(status);
    assert.ok(Date.now() - started >= 950, 'waited at least the Retry-After second');
  });
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:58 GMT')), 2000);
  assert.equal(parseRetryAfter('soon'), undefined);
});

test('transient status errors are retried; a failed job and a job that never completes are reported', async () => {
  await withServer({ statusErrors: 2 }, async (server) => {
    const result = await client(server).export({ level: 'system', types: ['Patient'] }, await out('transient'));
    assert.equal(result.files.reduce((s, f) => s + f.lines, 0), PATIENTS);
  });
  await withServer({ jobFails: true }, async (server) => {
    const dir = await out('fails');
    await assert.rejects(client(server, [], { retries: 2 }).export({ level: 'system' }, dir), (err: unknown) => err instanceof BulkExportError && err.kind === 'status' && /injected/.test(err.message));
    await assert.rejects(stat(join(dir, 'export-state.json')), 'a failed export leaves no state to resume');
  });
  await withServer({ neverCompletes: true }, async (server) => {
    await assert.rejects(client(server, [], { pollTimeoutMs: 300 }).export({ level: 'system' }, await out('never')), (err: unknown) => err instanceof BulkExportError && err.kind === 'timeout');
  });
});

test('a file cut mid-stream is resumed with a Range request and arrives whole', async () => {
  await withServer({ breakFilesAfterBytes: 200 }, async (server) => {
    const events: ExportEvent[] = [];
    const result = await client(server, events).export({ level: 'system', types: ['Encounter'] }, await out('broken'));
    assert.ok(server.stats.rangeRequests > 0, 'resumed with Range');
    assert.ok(events.some((e) => e.type === 'download-retry'));
    const ids = new Set<string>();
    for (const f of result.files) for (const line of (await readFile(f.path, 'utf8')).split('\n').filter(Boolean)) ids.add((JSON.parse(line) as { id: string }).id);
    assert.equal(ids.size, PATIENTS * 3);
  });
});

test('a 401 mid-download refreshes the token; a 500 on a file is retried', async () => {
  await withServer({ revokeTokensOnFirstDownload: true }, async (server) => {
    const result = await client(server).export({ level: 'system', types: ['Patient'] }, await out('401'));
    assert.equal(result.files.reduce((s, f) => s + f.lines, 0), PATIENTS);
    assert.ok(server.stats.tokens >= 2, 'a new token was requested');
  });
  await withServer({ fileErrorsOnce: true }, async (server) => {
    const result = await client(server).export({ level: 'system', types: ['Patient'] }, await out('500'));
    assert.equal(result.files.reduce((s, f) => s + f.lines, 0), PATIENTS);
  });
});

test('group and patient level, _since and _typeFilter narrow the export; bad parameters are refused', async () => {
  await withServer({}, async (server) => {
    const group = await client(server).export({ level: 'group', groupId: 'cohort', types: ['Patient', 'Encounter'] }, await out('group'));
    assert.equal(group.files.filter((f) => f.type === 'Patient').reduce((s, f) => s + f.lines, 0), 3);
    assert.equal(group.files.filter((f) => f.type === 'Encounter').reduce((s, f) => s + f.lines, 0), 9);
    const since = await client(server).export({ level: 'patient', types: ['Patient'], since: '2024-05-01T00:00:00Z' }, await out('since'));
    const kept = since.files.reduce((s, f) => s + f.lines, 0);
    assert.ok(kept > 0 && kept < PATIENTS, `_since keeps some patients (${kept})`);
    const filtered = await client(server).export({ level: 'system', types: ['Patient'], typeFilters: ['Patient?gender=male'] }, await out('filter'));
    assert.equal(filtered.files.reduce((s, f) => s + f.lines, 0), PATIENTS / 2);
    await assert.rejects(client(server).kickOff({ level: 'group', groupId: 'nope' }), (err: unknown) => err instanceof BulkExportError && err.status === 404);
    await assert.rejects(client(server).kickOff({ level: 'system', types: ['Nonsense'] }), (err: unknown) => err instanceof BulkExportError && err.kind === 'kick-off' && /unsupported/.test(err.message));
  });
});

test('cancellation: DELETE ends the job and an aborted run stops promptly', async () => {
  await withServer({ neverCompletes: true, retryAfterSeconds: 1 }, async (server) => {
    const events: ExportEvent[] = [];
    const c = client(server, events);
    const status = await c.kickOff({ level: 'system' });
    await c.cancel(status);
    assert.equal(server.stats.deletes, 1);
    await assert.rejects(c.waitForManifest(status), (err: unknown) => err instanceof BulkExportError && err.status === 404);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await assert.rejects(c.export({ level: 'system' }, await out('abort'), controller.signal), (err: unknown) => err instanceof BulkExportError && err.kind === 'cancelled');
    assert.ok(Date.now() - started < 900, 'did not sit out the Retry-After');
  });
});

test('a restarted run resumes from its saved status URL without a new kick-off', async () => {
  await withServer({}, async (server) => {
    const dir = await out('resume');
    const c = client(server);
    const first = await c.export({ level: 'system', types: ['Patient', 'Encounter'] }, dir);
    await rm(first.files[0]!.path); // as if the process died before this file finished
    const second = await c.export({ level: 'system', types: ['Patient', 'Encounter'] }, dir);
    assert.equal(server.stats.kickOffs, 1);
    assert.equal(second.files.length, first.files.length);
  });
});

test('auth problems are clear errors', async () => {
  await withServer({}, async (server) => {
    const anonymous = new BulkDataClient({ baseUrl: server.baseUrl, minPollMs: 10 });
    await assert.rejects(anonymous.kickOff({ level: 'system' }), (err: unknown) => err instanceof BulkExportError && err.status === 401);
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const stranger = new BackendServicesAuth({ tokenUrl: server.tokenUrl, clientId: 'leader-cds', privateKey: { ...(await exportJWK(privateKey)), kid: 'other', alg: 'ES384' }, scope: 'system/*.read' });
    await assert.rejects(stranger.token(), (err: unknown) => err instanceof BulkAuthError && err.status === 401);
  });
  assert.throws(() => new BackendServicesAuth({ tokenUrl: 'http://127.0.0.1:1/token', clientId: 'x', privateKey: { kty: 'oct', k: 'c2VjcmV0', alg: 'HS256', kid: 'h' }, scope: 's' }), BulkAuthError);
  await withServer({}, async (server) => {
    // Token required by the manifest but the client has no credentials: refused before any download.
    const c = client(server);
    const manifest = await c.waitForManifest(await c.kickOff({ level: 'system', types: ['Patient'] }));
    const anonymous = new BulkDataClient({ baseUrl: server.baseUrl });
    await assert.rejects(anonymous.download(manifest, await out('noauth')), (err: unknown) => err instanceof BulkExportError && err.kind === 'auth');
  });
});
