// Admin authentication (src/service/auth/admin.ts) on /feedback/summary: HTTP Basic against scrypt hashes from the
// config, or an admin-scoped JWT from an allow-listed issuer; open (and announced) with auth disabled.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, before } from 'node:test';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { pino } from 'pino';
import request from 'supertest';
import { hashAdminPassword, parsePasswordHash } from '../../src/service/auth/admin.ts';
import { ConfigError, loadConfig, ServiceConfigSchema } from '../../src/service/config.ts';
import { warnIfAuthDisabled } from '../../src/service/server.ts';
import { buildTestApp } from './http-fixture.ts';

const ISS = 'https://ehr.example.org';
const OTHER_ISS = 'https://other.example.org';
const BASE = 'https://cds.example.org';
const PASSWORD = 'correct horse battery staple';
const now = () => Math.floor(Date.now() / 1000);

let key: CryptoKey;
let jwk: JWK;
let hash: string;

before(async () => {
  const pair = await generateKeyPair('ES384', { extractable: true });
  key = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384' };
  // The lowest cost the parser accepts keeps the test quick; production hashes default to N = 2^15.
  hash = hashAdminPassword(PASSWORD, { N: 2 ** 14 });
});

function sign(claims: JWTPayload = {}): Promise<string> {
  return new SignJWT({ iss: ISS, aud: `${BASE}/feedback/summary`, iat: now(), exp: now() + 300, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES384', kid: 'k1', typ: 'JWT' })
    .sign(key);
}

function jwtConfig(admin: Record<string, unknown>) {
  return {
    server: { baseUrl: BASE },
    auth: { mode: 'jwt', issuers: [{ iss: ISS, jwks: { keys: [jwk] } }, { iss: OTHER_ISS, jwks: { keys: [jwk] } }] },
    admin,
  };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('admin authentication on /feedback/summary', () => {
  it('asks for credentials (401, WWW-Authenticate Basic, OperationOutcome) and accepts the configured user only', async () => {
    const t = buildTestApp({ config: jwtConfig({ users: [{ name: 'ops', passwordHash: hash }] }) });
    const none = await request(t.app).get('/feedback/summary').expect(401);
    assert.match(String(none.headers['www-authenticate']), /^Basic realm="leader-cds admin"/);
    assert.equal(none.body.resourceType, 'OperationOutcome');
    await request(t.app).get('/feedback/summary').set('Authorization', basic('ops', 'wrong password here')).expect(401);
    await request(t.app).get('/feedback/summary').set('Authorization', basic('nobody', PASSWORD)).expect(401);
    await request(t.app).get('/feedback/summary').set('Authorization', 'Basic %%%').expect(401);
    await request(t.app).get('/feedback/summary').set('Authorization', 'Digest x').expect(401);
    const ok = await request(t.app).get('/feedback/summary').set('Authorization', basic('ops', PASSWORD)).expect(200);
    assert.ok(Array.isArray(ok.body.rows));
    // Again, from the cache of recent sign-ins; a wrong password still fails after a success.
    await request(t.app).get('/feedback/summary').set('Authorization', basic('ops', PASSWORD)).expect(200);
    await request(t.app).get('/feedback/summary').set('Authorization', basic('ops', `${PASSWORD}!`)).expect(401);
    const logs = t.logs.join('');
    assert.ok(!logs.includes(PASSWORD) && !logs.includes(hash), 'neither the password nor its hash is logged');
  });

  it('takes a JWT from the hook issuers, limited by admin.jwt.issuers and admin.jwt.scope when set', async () => {
    const open = buildTestApp({ config: jwtConfig({}) });
    await request(open.app).get('/feedback/summary').set('Authorization', `Bearer ${await sign()}`).expect(200);
    const scoped = buildTestApp({ config: jwtConfig({ jwt: { issuers: [ISS], scope: 'leader-cds/admin' } }) });
    await request(scoped.app).get('/feedback/summary').set('Authorization', `Bearer ${await sign()}`).expect(401);
    await request(scoped.app).get('/feedback/summary').set('Authorization', `Bearer ${await sign({ scope: 'launch leader-cds/admin' })}`).expect(200);
    await request(scoped.app).get('/feedback/summary').set('Authorization', `Bearer ${await sign({ iss: OTHER_ISS, scope: 'leader-cds/admin' })}`).expect(401);
    // The audience is still checked: a hook token is no admin token.
    await request(scoped.app).get('/feedback/summary').set('Authorization', `Bearer ${await sign({ aud: `${BASE}/cds-services/x`, scope: 'leader-cds/admin' })}`).expect(401);
  });

  it('counts failed sign-ins per address: past admin.failedSignIns.max, 429 with Retry-After until the window passes', async () => {
    const t = buildTestApp({ config: jwtConfig({ users: [{ name: 'ops', passwordHash: hash }], failedSignIns: { max: 3, windowSeconds: 60 } }) });
    const get = (password: string) => request(t.app).get('/feedback/summary').set('Authorization', basic('ops', password));
    // Successes are not counted.
    for (let i = 0; i < 5; i++) await get(PASSWORD).expect(200);
    for (let i = 0; i < 3; i++) await get(`guess ${i}`).expect(401);
    const throttled = await get('guess 3').expect(429);
    assert.equal(throttled.body.resourceType, 'OperationOutcome');
    assert.equal(throttled.body.issue[0].code, 'throttled');
    assert.ok(Number(throttled.headers['retry-after']) > 0 && Number(throttled.headers['retry-after']) <= 60, 'Retry-After within the window');
    // The right password does not get around it from the same address within the window.
    await get(PASSWORD).expect(429);
    // Hook calls are not admin sign-ins: the service keeps answering them.
    await request(t.app).get('/cds-services').expect(200);
  });

  it('is open with auth disabled, and the start-up banner says so', async () => {
    const t = buildTestApp({ config: { auth: { mode: 'disabled' }, admin: { users: [{ name: 'ops', passwordHash: hash }] } } });
    await request(t.app).get('/feedback/summary').expect(200);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
    warnIfAuthDisabled(ServiceConfigSchema.parse({ admin: { queues: { redis: 'redis://127.0.0.1:6399' } } }), logger);
    assert.match(lines.join(''), /admin endpoints are open too: \/feedback\/summary and the queue dashboard \/admin\/queues/);
  });
});

describe('admin configuration is validated at start', () => {
  it('refuses a failed-sign-in bound of zero, naming the field', () => {
    const parsed = ServiceConfigSchema.safeParse({ admin: { failedSignIns: { max: 0 } } });
    assert.ok(!parsed.success && parsed.error.issues.some((i) => i.path.join('.') === 'admin.failedSignIns.max'));
  });

  it('names the field of a bad hash, a repeated user or an unknown issuer, without echoing the hash', () => {
    const bad = ServiceConfigSchema.safeParse({ admin: { users: [{ name: 'ops', passwordHash: 'scrypt$1000$8$1$c2FsdA==$aGFzaA==' }] } });
    assert.ok(!bad.success);
    const issue = bad.error.issues.find((i) => i.path.join('.') === 'admin.users.0.passwordHash');
    assert.match(issue?.message ?? '', /scrypt N must be a power of two/);
    assert.ok(!issue!.message.includes('c2FsdA'), 'the message does not repeat the hash');
    const parsed = ServiceConfigSchema.safeParse({ admin: { users: [{ name: 'ops', passwordHash: hash }, { name: 'ops', passwordHash: hash }] } });
    assert.ok(!parsed.success && parsed.error.issues.some((i) => i.path.join('.') === 'admin.users.1.name' && /listed twice/.test(i.message)));
    const issuer = ServiceConfigSchema.safeParse(jwtConfig({ jwt: { issuers: ['https://unknown.example.org'] } }));
    assert.ok(!issuer.success && issuer.error.issues.some((i) => i.path.join('.') === 'admin.jwt.issuers.0'));
    assert.throws(() => parsePasswordHash('plain-text-password'), /not an scrypt password hash/);
    assert.throws(() => hashAdminPassword('short'), /at least 12 characters/);
  });

  it('reads the queue dashboard Redis from LEADER_CDS_QUEUES_REDIS, and a bad hash in a file names the file and field', async () => {
    const config = loadConfig({ env: { LEADER_CDS_QUEUES_REDIS: 'redis://127.0.0.1:6390' } });
    assert.equal(config.admin.queues?.redis, 'redis://127.0.0.1:6390');
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'admin-config-'));
    try {
      const file = join(dir, 'service.json');
      await writeFile(file, JSON.stringify({ admin: { users: [{ name: 'ops', passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==' }] } }));
      assert.throws(() => loadConfig({ file, env: {} }), (err: unknown) => err instanceof ConfigError && err.message.includes(`config file ${file}: admin.users.0.passwordHash: the salt must be at least 16 bytes`) && !err.message.includes('aGFzaA'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
