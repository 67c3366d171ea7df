// The service with two worker processes (server.workers: 2), started as `leader-cds serve` would be: one port,
// session memory and JWT replay shared across the workers, a crashed worker replaced, a clean stop on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { cp } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { ModelRegistry } from '../../src/retrain/registry.ts';
import { projectRoot } from '../../src/service/config.ts';

const modelDir = path.join(projectRoot, 'models/demo');
const example = path.join(projectRoot, 'cds-hooks/examples/order-select-request.json');
const skip = !existsSync(path.join(modelDir, 'manifest.json')) ? 'models/demo is absent (npm run demo-model builds it)' : false;

const ISS = 'https://ehr.cluster.test';
const BASE = 'https://cds.cluster.test';
const dir = mkdtempSync(path.join(tmpdir(), 'cluster-'));
let key: CryptoKey;
let child: ChildProcess;
let port = 0;
const messages: string[] = [];
const waiters: Array<{ msg: string; count: number; resolve: () => void }> = [];

function waitFor(msg: string, count: number, ms = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${count}x "${msg}" within ${ms} ms; saw ${messages.join(', ')}`)), ms);
    const check = { msg, count, resolve: () => (clearTimeout(timer), resolve()) };
    if (messages.filter((m) => m === msg).length >= count) check.resolve();
    else waiters.push(check);
  });
}

function workerPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        // Children running the CLI: the workers (tsx may also run an esbuild child).
        return Number(readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === child.pid && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes('leader-cds.js');
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function token(pathname: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISS, aud: `${BASE}${pathname}`, iat: now, exp: now + 120, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES384', kid: 'k1', typ: 'JWT' })
    .sign(key);
}

/** One call on a new connection, so that the primary hands it to the next worker in turn. */
function post(pathname: string, body: unknown, jwt: string): Promise<{ status: number; json: { cards?: Array<{ summary: string }> } }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, path: pathname, method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}`, 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { cards?: Array<{ summary: string }> } }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The example patient's order-sign, with warfarin and ibuprofen drafted together: an interaction card. */
function signBody(encounterSuffix: string) {
  const r = JSON.parse(readFileSync(example, 'utf8')) as { context: Record<string, unknown> } & Record<string, unknown>;
  const draft = (id: string, code: string, display: string) => ({
    resourceType: 'MedicationRequest',
    id,
    status: 'draft',
    intent: 'order',
    subject: { reference: `Patient/${String(r.context.patientId)}` },
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code, display }] },
  });
  const { selections: _s, ...context } = r.context;
  return {
    ...r,
    hook: 'order-sign',
    hookInstance: randomUUID(),
    context: { ...context, encounterId: `${String(r.context.encounterId)}${encounterSuffix}`, draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: draft('d1', '11289', 'warfarin') }, { resource: draft('d2', '5640', 'ibuprofen') }] } },
  };
}

describe('two worker processes', { skip }, () => {
  before(async () => {
    const pair = await generateKeyPair('ES384', { extractable: true });
    key = pair.privateKey;
    const config = {
      server: { port: 0, host: '127.0.0.1', baseUrl: BASE, workers: 2 },
      model: { dir: modelDir },
      auth: { mode: 'jwt', issuers: [{ iss: ISS, jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384' }] } }] },
      feedback: { db: path.join(dir, 'feedback.sqlite') },
      log: { level: 'info' },
    };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LEADER_CDS_') && k !== 'PORT' && k !== 'HOST'));
    child = spawn(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'serve', '--config', path.join(dir, 'config.json')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { msg?: string; port?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.msg === 'listening' && entry.port) port = entry.port;
      if (entry.msg) messages.push(entry.msg);
      for (const w of [...waiters])
        if (messages.filter((m) => m === w.msg).length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
    });
    await waitFor('all workers ready', 1);
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves one port from two processes; what a session was told and which tokens were used hold across both', async () => {
    assert.equal(workerPids().length, 2);
    const path_ = '/cds-services/leader-order-sign';
    const body = signBody('');
    const first = await post(path_, body, await token(path_));
    assert.equal(first.status, 200);
    assert.ok(first.json.cards!.some((c) => /warfarin|ibuprofen|interact/i.test(c.summary)), JSON.stringify(first.json));
    // Later order-sign calls of the same session land on both workers in turn: neither repeats the warning.
    for (let i = 0; i < 3; i++) {
      const again = await post(path_, { ...body, hookInstance: randomUUID() }, await token(path_));
      assert.equal(again.status, 200);
      assert.deepEqual(again.json.cards, [], `call ${i + 2} repeated a card`);
    }
    // Another session (encounter) still gets it.
    const other = await post(path_, signBody('-other'), await token(path_));
    assert.ok(other.json.cards!.length > 0);
    // A token used once is refused whichever worker sees it again.
    const jwt = await token(path_);
    assert.equal((await post(path_, signBody('-replay'), jwt)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await post(path_, signBody('-replay'), jwt)).status, 401);
  });

  it('replaces a worker that dies, and stops every worker on SIGTERM', async () => {
    const [victim] = workerPids();
    process.kill(victim!, 'SIGKILL');
    await waitFor('all workers ready', 2);
    const pids = workerPids();
    assert.equal(pids.length, 2);
    assert.ok(!pids.includes(victim!));
    const path_ = '/cds-services/leader-order-sign';
    assert.equal((await post(path_, signBody('-after-restart'), await token(path_))).status, 200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'worker still running');
  });
});

describe('a cluster whose workers cannot start', () => {
  it('gives up after a few failed starts and exits non-zero, instead of forking forever', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const busyPort = (taken.address() as { port: number }).port;
    const own = mkdtempSync(path.join(tmpdir(), 'cluster-busy-'));
    try {
      const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LEADER_CDS_'))), HOST: '127.0.0.1', LEADER_CDS_WORKERS: '2', LEADER_CDS_FEEDBACK_DB: path.join(own, 'feedback.sqlite'), LEADER_CDS_MODEL_DIR: modelDir };
      const proc = spawn(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'serve', '--port', String(busyPort)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => (proc.kill('SIGKILL'), resolve(null)), 45_000);
        proc.once('exit', (c) => (clearTimeout(timer), resolve(c)));
      });
      assert.notEqual(code, 0, out.slice(-2000));
      assert.notEqual(code, null, 'still running after 45 s');
      assert.match(out, /workers keep failing at start/);
    } finally {
      taken.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('two workers following a promotion', { skip }, () => {
  it('each worker swaps to the promoted model; no call fails on the way', async () => {
    const own = mkdtempSync(path.join(tmpdir(), 'cluster-swap-'));
    const registry = new ModelRegistry(path.join(own, 'models'));
    for (const version of ['swap-v1', 'swap-v2']) {
      await cp(modelDir, path.join(own, version), { recursive: true });
      const file = path.join(own, version, 'manifest.json');
      writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), modelVersion: version }));
      await registry.register(path.join(own, version));
    }
    await registry.promote('swap-v1');
    const config = { server: { host: '127.0.0.1', port: 0, workers: 2, timeBudgetMs: 2000 }, model: { registry: path.join(own, 'models'), swapGraceMs: 2000 }, feedback: { db: path.join(own, 'feedback.sqlite') } };
    writeFileSync(path.join(own, 'config.json'), JSON.stringify(config));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LEADER_CDS_') && k !== 'PORT' && k !== 'HOST'));
    const proc = spawn(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'serve', '--config', path.join(own, 'config.json')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let swapPort = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('workers not ready within 60 s')), 60_000);
        createInterface({ input: proc.stdout! }).on('line', (line) => {
          const entry = (() => {
            try {
              return JSON.parse(line) as { msg?: string; port?: number };
            } catch {
              return {};
            }
          })();
          if (entry.msg === 'listening' && entry.port) swapPort = entry.port;
          if (entry.msg === 'all workers ready') (clearTimeout(timer), resolve());
        });
      });
      const example = JSON.parse(readFileSync(path.join(projectRoot, 'cds-hooks/examples/order-select-request.json'), 'utf8')) as Record<string, unknown>;
      const call = (): Promise<{ status: number; text: string }> =>
        new Promise((resolve, reject) => {
          const payload = JSON.stringify({ ...example, hookInstance: randomUUID() });
          const req = request(
            { host: '127.0.0.1', port: swapPort, path: '/cds-services/leader-order-select', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            },
          );
          req.on('error', reject);
          req.end(payload);
        });
      const versions: string[] = [];
      const failures: string[] = [];
      const take = async () => {
        const { status, text } = await call();
        if (status !== 200) failures.push(`${status} ${text.slice(0, 200)}`);
        else versions.push(/swap-v[12]/.exec(text)?.[0] ?? 'none');
      };
      for (let i = 0; i < 4; i++) await take();
      assert.deepEqual([...new Set(versions)], ['swap-v1']);
      await registry.promote('swap-v2');
      const deadline = Date.now() + 60_000;
      // New connections alternate between the workers: six v2 answers in a row means both have swapped.
      while (Date.now() < deadline && !(versions.length >= 6 && versions.slice(-6).every((v) => v === 'swap-v2'))) await take();
      assert.deepEqual(failures, []);
      assert.deepEqual(versions.slice(-6), Array(6).fill('swap-v2'));
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      proc.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(own, { recursive: true, force: true });
    }
  });
});
