import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { JwtAuthenticator } from '../../src/service/auth/jwt.ts';
import { ServiceError } from '../../src/service/contracts.ts';
import { SharedState } from '../../src/service/shared-state.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'shared-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Two connections to one file stand for two worker processes.
function pair(now: () => number, options: { maxSessions?: number; maxTokenIds?: number } = {}) {
  const file = path.join(dir, `${randomUUID()}.sqlite`);
  const a = new SharedState(file, { sessionTtlMs: 1000, now, ...options });
  const b = new SharedState(file, { sessionTtlMs: 1000, now, ...options });
  return { a, b, close: () => (a.close(), b.close()) };
}

describe('state shared by the workers (SQLite)', () => {
  it('a session told something by one worker is known to another, per issuer, patient and encounter, until it expires', () => {
    let t = 1_000_000;
    const { a, b, close } = pair(() => t);
    const key = { issuer: 'https://ehr.example', patientId: 'p1', encounterId: 'e1' };
    a.sessions.record(key, ['suggest:A02B', 'ddi:B01A|M01A']);
    assert.deepEqual([...b.sessions.said(key)].sort(), ['ddi:B01A|M01A', 'suggest:A02B']);
    assert.equal(b.sessions.said({ ...key, issuer: 'https://other.example' }).size, 0);
    assert.equal(b.sessions.said({ ...key, encounterId: 'e2' }).size, 0);
    // A later call extends the whole session, not only what it added.
    t += 800;
    b.sessions.record(key, ['suggest:C10A']);
    t += 800;
    assert.deepEqual([...a.sessions.said(key)].sort(), ['ddi:B01A|M01A', 'suggest:A02B', 'suggest:C10A']);
    // Expired: forgotten, and a new call starts the session afresh instead of reviving old items.
    t += 1001;
    assert.equal(a.sessions.said(key).size, 0);
    a.sessions.record(key, ['suggest:N02B']);
    assert.deepEqual([...b.sessions.said(key)], ['suggest:N02B']);
    close();
  });

  it('a token id used on one worker is refused on another until its token expires', () => {
    let t = 5_000_000;
    const { a, b, close } = pair(() => t);
    assert.equal(a.replay.checkAndRemember('iss\u0000jti-1', t + 1000), true);
    assert.equal(b.replay.checkAndRemember('iss\u0000jti-1', t + 1000), false);
    assert.equal(a.replay.checkAndRemember('iss\u0000jti-1', t + 1000), false);
    assert.equal(b.replay.checkAndRemember('iss\u0000jti-2', t + 1000), true);
    t += 1000;
    assert.equal(b.replay.checkAndRemember('iss\u0000jti-1', t + 1000), true, 'an expired id may be seen again');
    assert.equal(a.replay.checkAndRemember('iss\u0000jti-1', t + 1000), false);
    close();
  });

  it('stays within its bounds: the sessions and ids closest to expiry go first', () => {
    let t = 9_000_000;
    const { a, close } = pair(() => t, { maxSessions: 2, maxTokenIds: 2 });
    for (let i = 0; i < 4; i++) {
      t += 20_000; // past the sweep interval, so that every call may sweep
      a.sessions.record({ patientId: `p${i}` }, ['x']);
      a.replay.checkAndRemember(`k${i}`, t + 1_000_000);
    }
    t += 20_000;
    a.sessions.record({ patientId: 'p4' }, ['x']);
    assert.equal(a.sessions.said({ patientId: 'p0' }).size, 0);
    assert.equal(a.sessions.said({ patientId: 'p4' }).size, 1);
    assert.equal(a.replay.checkAndRemember('k0', t + 1_000_000), true, 'the oldest id was let go');
    assert.equal(a.replay.checkAndRemember('k3', t + 1_000_000), false);
    close();
  });

  it('two authenticators on one shared state refuse a token replayed to the other', async () => {
    const { a, b, close } = pair(Date.now);
    const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
    const issuer = { iss: 'https://ehr.example', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', kty: 'EC' }] }, algorithms: ['ES384' as const] };
    const options = { clockSkewSeconds: 5, maxTokenAgeSeconds: 600, replayCacheSize: 100 };
    const first = new JwtAuthenticator([issuer], { ...options, replay: a.replay });
    const second = new JwtAuthenticator([issuer], { ...options, replay: b.replay });
    const aud = 'https://cds.example/cds-services/x';
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ iss: issuer.iss, aud, iat: now, exp: now + 60, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES384', kid: 'k1', typ: 'JWT' })
      .sign(privateKey);
    assert.equal((await first.authenticate(`Bearer ${jwt}`, aud)).issuer, issuer.iss);
    await assert.rejects(second.authenticate(`Bearer ${jwt}`, aud), (e: unknown) => e instanceof ServiceError && e.kind === 'unauthorized');
    close();
  });
});
