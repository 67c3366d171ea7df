// JWT bearer verification per CDS Hooks 2.0: keys made here (ES384, RS384), the public sandbox's published test
// key (../shared/fixtures/jwt), a JWKS served over loopback (caching and rotation), and the app answering 401.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import request from 'supertest';
import { JwtAuthenticator, type JwtOptions } from '../../src/service/auth/jwt.ts';
import { projectRoot } from '../../src/service/config.ts';
import { ServiceError } from '../../src/service/contracts.ts';
import { buildTestApp, orderSelectRequest } from './http-fixture.ts';

const ISS = 'https://ehr.example.org';
const AUD = 'https://cds.example.org/cds-services/echo-select';
const OPTS: JwtOptions = { clockSkewSeconds: 30, maxTokenAgeSeconds: 3600, replayCacheSize: 1000 };
const now = () => Math.floor(Date.now() / 1000);

interface KeyPair {
  privateKey: CryptoKey;
  publicJwk: JWK;
  alg: string;
  kid: string;
}

async function makeKey(alg: 'ES384' | 'RS384' | 'ES256'): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, alg, kid };
}

async function sign(key: KeyPair, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  // Claims given by the test win over the defaults (jose's setters would overwrite them).
  return new SignJWT({ iss: ISS, aud: AUD, iat: now(), exp: now() + 300, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function refused(auth: JwtAuthenticator, header: string | undefined, audience = AUD): Promise<void> {
  await assert.rejects(auth.authenticate(header, audience), (err: unknown) => err instanceof ServiceError && err.kind === 'unauthorized' && err.message === 'unauthorized');
}

describe('JWT verification with keys made by the test', () => {
  let es: KeyPair;
  let rs: KeyPair;
  let other: KeyPair;
  let es256: KeyPair;
  let auth: JwtAuthenticator;
  const reasons: string[] = [];

  before(async () => {
    [es, rs, other, es256] = await Promise.all([makeKey('ES384'), makeKey('RS384'), makeKey('ES384'), makeKey('ES256')]);
    auth = new JwtAuthenticator(
      [{ iss: ISS, jwks: { keys: [es.publicJwk, rs.publicJwk, es256.publicJwk] as Array<JWK & { kty: string }> }, algorithms: ['ES384', 'RS384'] }],
      { ...OPTS, onReject: (r) => reasons.push(r) },
    );
  });

  it('accepts ES384 and RS384 tokens signed with the right key, passing iss and tenant through', async () => {
    const a = await auth.authenticate(`Bearer ${await sign(es, { tenant: 'hospital-a' })}`, AUD);
    assert.equal(a.issuer, ISS);
    assert.equal(a.tenant, 'hospital-a');
    const b = await auth.authenticate(`Bearer ${await sign(rs)}`, AUD);
    assert.equal(b.issuer, ISS);
  });

  it('refuses a wrong aud, and an aud list that merely contains the URL', async () => {
    await refused(auth, `Bearer ${await sign(es, { aud: 'https://cds.example.org/cds-services/other' })}`);
    await refused(auth, `Bearer ${await sign(es, { aud: [AUD, 'https://elsewhere.example'] })}`);
    await refused(auth, `Bearer ${await sign(es)}`, `${AUD}/feedback`);
  });

  it('refuses expired tokens, accepts expiry within the clock skew', async () => {
    await refused(auth, `Bearer ${await sign(es, { iat: now() - 600, exp: now() - 120 })}`);
    await auth.authenticate(`Bearer ${await sign(es, { iat: now() - 300, exp: now() - 10 })}`, AUD);
  });

  it('refuses iat in the future beyond the skew, and tokens older than the maximum age', async () => {
    await refused(auth, `Bearer ${await sign(es, { iat: now() + 600, exp: now() + 900 })}`);
    await refused(auth, `Bearer ${await sign(es, { iat: now() - 7200, exp: now() + 60 })}`);
  });

  it('refuses a replayed jti and a token without jti', async () => {
    const token = await sign(es);
    await auth.authenticate(`Bearer ${token}`, AUD);
    await refused(auth, `Bearer ${token}`);
    const noJti = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: es.kid })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(es.privateKey);
    await refused(auth, `Bearer ${noJti}`);
  });

  it('refuses alg none (hand-built)', async () => {
    const payload = { iss: ISS, aud: AUD, iat: now(), exp: now() + 300, jti: randomUUID() };
    await refused(auth, `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`);
    await refused(auth, `Bearer ${b64url({ alg: 'NONE', typ: 'JWT', kid: es.kid })}.${b64url(payload)}.`);
    assert.ok(reasons.some((r) => r.includes('NONE') || r.includes('none')));
  });

  it('refuses HS256, also with the public key as the shared secret (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode('a-very-long-shared-secret-of-32-bytes!!');
    const hs = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', kid: es.kid })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
    await refused(auth, `Bearer ${hs}`);
    const confused = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS384', kid: rs.kid })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JSON.stringify(rs.publicJwk)));
    await refused(auth, `Bearer ${confused}`);
  });

  it('refuses an algorithm the issuer is not configured for (ES256)', async () => {
    await refused(auth, `Bearer ${await sign(es256)}`);
  });

  it('refuses an unknown issuer, an unknown kid and a key not in the set', async () => {
    await refused(auth, `Bearer ${await sign(es, { iss: 'https://stranger.example' })}`);
    await refused(auth, `Bearer ${await sign(es, {}, { kid: 'no-such-kid' })}`);
    await refused(auth, `Bearer ${await sign(other, {}, { kid: es.kid })}`);
  });

  it('refuses garbage and missing headers', async () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer abc', 'Bearer a.b.c', 'Bearer ....', `Bearer ${'x'.repeat(5000)}.y.z`, 'bearer\u0000x.y.z'])
      await refused(auth, header);
    const token = await sign(es);
    await refused(auth, `Bearer ${token.slice(0, -4)}AAAA`);
    await refused(auth, `Bearer ${token.split('.').slice(0, 2).join('.')}.`);
  });

  it('refuses HMAC algorithms in configuration', () => {
    assert.throws(() => new JwtAuthenticator([{ iss: ISS, jwks: { keys: [es.publicJwk as JWK & { kty: string }] }, algorithms: ['HS256' as 'ES384'] }], OPTS));
  });
});

const SANDBOX = path.resolve(projectRoot, '../shared/fixtures/jwt');

describe('the public CDS Hooks sandbox test key (../shared/fixtures/jwt)', { skip: existsSync(SANDBOX) ? false : `skipped: ${SANDBOX} is absent` }, () => {
  it('accepts a token signed like the sandbox does, with its JWKS configured out of band', async () => {
    const pair = JSON.parse(readFileSync(path.join(SANDBOX, 'sandbox-test-keypair.json'), 'utf8')) as { keys: JWK[] };
    const jwk = pair.keys[0]!;
    const privateKey = await importJWK(jwk, 'ES384');
    const auth = new JwtAuthenticator([{ iss: 'https://sandbox.cds-hooks.org', jwksFile: path.join(SANDBOX, 'sandbox-jwks.json'), algorithms: ['ES384'] }], OPTS);
    const token = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES384', kid: jwk.kid!, typ: 'JWT', jku: 'https://sandbox.cds-hooks.org/.well-known/jwks.json' })
      .setIssuer('https://sandbox.cds-hooks.org')
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const client = await auth.authenticate(`Bearer ${token}`, AUD);
    assert.equal(client.issuer, 'https://sandbox.cds-hooks.org');
    await refused(auth, `Bearer ${token}`);
  });
});

describe('JWKS over a loopback URL: caching and rotation', () => {
  let server: Server;
  let url = '';
  let served: JWK[] = [];
  let fetches = 0;
  let down = false;
  before(async () => {
    const jwksApp = express();
    jwksApp.get('/.well-known/jwks.json', (_req, res) => {
      fetches++;
      if (down) {
        res.status(500).end();
        return;
      }
      res.json({ keys: served });
    });
    server = createServer(jwksApp).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('fetches once, caches, and refetches when a new kid appears', async () => {
    const first = await makeKey('ES384');
    const second = await makeKey('RS384');
    served = [first.publicJwk];
    const auth = new JwtAuthenticator([{ iss: ISS, jwksUrl: url, algorithms: ['ES384', 'RS384'] }], { ...OPTS, jwksCooldownMs: 0 });
    await auth.authenticate(`Bearer ${await sign(first)}`, AUD);
    await auth.authenticate(`Bearer ${await sign(first)}`, AUD);
    assert.equal(fetches, 1, 'the key set is cached');
    served = [second.publicJwk];
    await auth.authenticate(`Bearer ${await sign(second)}`, AUD);
    assert.equal(fetches, 2, 'an unknown kid refetches the set');
    await refused(auth, `Bearer ${await sign(await makeKey('ES384'))}`);
  });

  it('answers 401, not a crash, when the JWKS endpoint fails', async () => {
    down = true;
    const auth = new JwtAuthenticator([{ iss: ISS, jwksUrl: url, algorithms: ['ES384'] }], { ...OPTS, jwksCooldownMs: 0 });
    await refused(auth, `Bearer ${await sign(await makeKey('ES384'))}`);
    down = false;
  });

  it('refuses a plain-http JWKS URL that is not loopback', () => {
    assert.throws(() => new JwtAuthenticator([{ iss: ISS, jwksUrl: 'http://keys.example.org/jwks.json', algorithms: ['ES384'] }], OPTS), /https/);
  });
});

describe('the app with JWT authentication on', () => {
  let key: KeyPair;
  before(async () => {
    key = await makeKey('ES384');
  });
  function app() {
    return buildTestApp({
      config: {
        server: { baseUrl: 'https://cds.example.org/' },
        auth: { mode: 'jwt', issuers: [{ iss: ISS, jwks: { keys: [key.publicJwk] } }] },
      },
    });
  }

  it('lets a signed call in and answers 401 with no detail otherwise', async () => {
    const t = app();
    const token = await sign(key);
    await request(t.app).post('/cds-services/echo-select').set('Authorization', `Bearer ${token}`).send(orderSelectRequest()).expect(200);
    const replay = await request(t.app).post('/cds-services/echo-select').set('Authorization', `Bearer ${token}`).send(orderSelectRequest()).expect(401);
    assert.deepEqual(replay.body, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'unauthorized' }] });
    assert.equal(replay.headers['www-authenticate'], 'Bearer');
    await request(t.app).post('/cds-services/echo-select').send(orderSelectRequest()).expect(401);
    await request(t.app).post('/cds-services/echo-select').set('Authorization', 'Bearer garbage').send(orderSelectRequest()).expect(401);
    // Authentication comes first: an unauthenticated caller learns nothing about the body either.
    await request(t.app).post('/cds-services/echo-select').set('Content-Type', 'application/json').send('{oops').expect(401);
    assert.ok(!t.logs.join('').includes(token), 'the JWT must never be logged');
    const metrics = await t.metrics.registry.getSingleMetricAsString('leader_cds_auth_failures_total');
    assert.match(metrics, /leader_cds_auth_failures_total 4/);
  });

  it('needs a token addressed to the feedback URL for feedback, and to the summary URL for the summary', async () => {
    const t = app();
    const feedback = { feedback: [{ card: randomUUID(), outcome: 'overridden', outcomeTimestamp: new Date().toISOString() }] };
    const hookToken = await sign(key);
    await request(t.app).post('/cds-services/echo-select/feedback').set('Authorization', `Bearer ${hookToken}`).send(feedback).expect(401);
    const feedbackToken = await sign(key, { aud: `${AUD}/feedback` });
    await request(t.app).post('/cds-services/echo-select/feedback').set('Authorization', `Bearer ${feedbackToken}`).send(feedback).expect(200);
    await request(t.app).get('/feedback/summary').expect(401);
    const summaryToken = await sign(key, { aud: 'https://cds.example.org/feedback/summary' });
    await request(t.app).get('/feedback/summary').set('Authorization', `Bearer ${summaryToken}`).expect(200);
  });

  it('leaves discovery, health and metrics open', async () => {
    const t = app();
    await request(t.app).get('/cds-services').expect(200);
    await request(t.app).get('/healthz').expect(200);
    await request(t.app).get('/metrics').expect(200);
  });
});
