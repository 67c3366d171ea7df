// CDS Hooks client authentication: a JWT bearer token signed by an allow-listed issuer with an asymmetric key.
// Every failure is the same 401 to the caller; the reason goes to the log at debug level only.
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { ServiceError } from '../contracts.ts';
import type { IssuerConfig, ServiceConfig } from '../config.ts';
import { ReplayCache, type ReplayStore } from './replay-cache.ts';

export interface VerifiedClient {
  issuer: string;
  tenant?: string;
  jti: string;
}

export interface Authenticator {
  readonly mode: 'jwt' | 'disabled';
  /** Verifies the Authorization header for a call to `audience` (the exact URL called). */
  authenticate(authorization: string | undefined, audience: string): Promise<VerifiedClient | undefined>;
}

interface TrustedIssuer {
  iss: string;
  keys: JWTVerifyGetKey;
  algorithms: string[];
}

const SYMMETRIC_OR_NONE = /^(none|HS\d+)$/i;

export interface JwtOptions {
  clockSkewSeconds: number;
  maxTokenAgeSeconds: number;
  replayCacheSize: number;
  /** Least time between two JWKS fetches (rotation on an unknown kid). */
  jwksCooldownMs?: number;
  /** Where used token ids are remembered; an in-memory cache of `replayCacheSize` ids by default. */
  replay?: ReplayStore;
  /** Called with the reason a token was refused (for debug logs; never the token). */
  onReject?: (reason: string) => void;
  now?: () => number;
}

function keysOf(issuer: IssuerConfig, cooldownMs: number): JWTVerifyGetKey {
  if (issuer.jwksUrl !== undefined) {
    const url = new URL(issuer.jwksUrl);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
      throw new ServiceError('invalid', `JWKS URL for issuer ${issuer.iss} must be https`);
    // jose caches the set and refetches on an unknown kid (key rotation), at most once per cooldown.
    return createRemoteJWKSet(url, { cooldownDuration: cooldownMs, cacheMaxAge: 10 * 60_000, timeoutDuration: 2_000 });
  }
  let jwks: JSONWebKeySet;
  if (issuer.jwks !== undefined) jwks = issuer.jwks as JSONWebKeySet;
  else {
    const file = issuer.jwksFile!;
    try {
      jwks = JSON.parse(readFileSync(file, 'utf8')) as JSONWebKeySet;
    } catch (err) {
      throw new ServiceError('invalid', `JWKS file ${file} for issuer ${issuer.iss}: ${(err as Error).message}`);
    }
    if (!Array.isArray(jwks?.keys)) throw new ServiceError('invalid', `JWKS file ${file} for issuer ${issuer.iss}: no "keys" array`);
  }
  // Out-of-band keys never include private parts in memory we keep longer than needed.
  const publicOnly = { keys: jwks.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub) };
  return createLocalJWKSet(publicOnly);
}

export class JwtAuthenticator implements Authenticator {
  readonly mode = 'jwt' as const;
  private readonly issuers = new Map<string, TrustedIssuer>();
  private readonly replay: ReplayStore;
  private readonly now: () => number;

  constructor(
    issuers: readonly IssuerConfig[],
    private readonly options: JwtOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.replay = options.replay ?? new ReplayCache(options.replayCacheSize, this.now);
    for (const issuer of issuers) {
      const bad = issuer.algorithms.filter((a) => SYMMETRIC_OR_NONE.test(a));
      if (bad.length > 0) throw new ServiceError('invalid', `issuer ${issuer.iss}: algorithms ${bad.join(', ')} are refused`);
      this.issuers.set(issuer.iss, { iss: issuer.iss, keys: keysOf(issuer, options.jwksCooldownMs ?? 30_000), algorithms: issuer.algorithms });
    }
  }

  private refuse(reason: string): never {
    this.options.onReject?.(reason);
    throw new ServiceError('unauthorized', 'unauthorized');
  }

  async authenticate(authorization: string | undefined, audience: string): Promise<VerifiedClient> {
    if (authorization === undefined) this.refuse('no Authorization header');
    const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)\s*$/.exec(authorization);
    if (!match) this.refuse('Authorization is not a Bearer JWT');
    const token = match[1]!;
    let iss: unknown;
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      this.refuse('token cannot be decoded');
    }
    // Checked before any key lookup so that none/HMAC never reach the verifier.
    if (typeof alg !== 'string' || SYMMETRIC_OR_NONE.test(alg)) this.refuse(`algorithm ${String(alg)} refused`);
    if (typeof iss !== 'string') this.refuse('no iss claim');
    const issuer = this.issuers.get(iss);
    if (!issuer) this.refuse('issuer not allow-listed');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, {
        issuer: issuer.iss,
        audience,
        algorithms: issuer.algorithms,
        clockTolerance: this.options.clockSkewSeconds,
        maxTokenAge: this.options.maxTokenAgeSeconds,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      this.refuse(`verification failed: ${(err as { code?: string }).code ?? (err as Error).name}`);
    }
    // An exact audience: a token for one URL is not good for another, nor for a list that merely contains it.
    if (payload.aud !== audience && !(Array.isArray(payload.aud) && payload.aud.length === 1 && payload.aud[0] === audience))
      this.refuse('aud is not exactly the URL called');
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 512) this.refuse('bad jti');
    const exp = (payload.exp! + this.options.clockSkewSeconds) * 1000;
    if (!this.replay.checkAndRemember(`${issuer.iss}\u0000${jti}`, exp)) this.refuse('jti replayed');
    const tenant = typeof payload.tenant === 'string' ? payload.tenant : undefined;
    return { issuer: issuer.iss, jti, ...(tenant !== undefined ? { tenant } : {}) };
  }
}

/** Development mode: every call is let in; the service says so loudly at start. */
export class DisabledAuthenticator implements Authenticator {
  readonly mode = 'disabled' as const;
  async authenticate(): Promise<undefined> {
    return undefined;
  }
}

export function createAuthenticator(auth: ServiceConfig['auth'], onReject?: (reason: string) => void, replay?: ReplayStore): Authenticator {
  if (auth.mode === 'disabled') return new DisabledAuthenticator();
  return new JwtAuthenticator(auth.issuers, {
    clockSkewSeconds: auth.clockSkewSeconds,
    maxTokenAgeSeconds: auth.maxTokenAgeSeconds,
    replayCacheSize: auth.replayCacheSize,
    jwksCooldownMs: auth.jwksCooldownSeconds * 1000,
    ...(onReject ? { onReject } : {}),
    ...(replay ? { replay } : {}),
  });
}
