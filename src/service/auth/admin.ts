// Authentication of the admin endpoints (/feedback/summary, the queue dashboard at /admin/queues). A browser
// cannot send a bearer JWT, so people sign in with HTTP Basic against scrypt password hashes from the config;
// API clients may instead send a JWT from an allow-listed issuer (verified by the hook authenticator) that
// carries the admin scope. With auth.mode disabled (development) the admin endpoints are open, as the banner says.
import { createHash, randomBytes, scrypt as scryptCallback, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { decodeJwt } from 'jose';
import { ServiceError } from '../contracts.ts';
import type { Authenticator } from './jwt.ts';

export interface AdminUser {
  name: string;
  /** `scrypt$N$r$p$<salt base64>$<hash base64>`, as made by hashAdminPassword. */
  passwordHash: string;
}

export interface AdminSettings {
  users: AdminUser[];
  jwt: {
    /** Issuers whose tokens may be admin tokens; absent = every issuer of auth.issuers. */
    issuers?: string[];
    /** A scope the token's `scope` claim must list; absent = any verified token (the hook callers). */
    scope?: string;
  };
}

export interface AdminPrincipal {
  kind: 'basic' | 'jwt' | 'open';
  name: string;
}

export interface AdminAuthenticator {
  /** True when no credentials are asked (auth.mode disabled). */
  readonly open: boolean;
  /** Resolves the caller, or throws ServiceError('unauthorized') without saying why. */
  authenticate(authorization: string | undefined, audience: string): Promise<AdminPrincipal>;
}

export const BASIC_REALM = 'leader-cds admin';

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const HASH_PATTERN = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Parses a stored hash; a malformed one is a configuration error (the message never repeats the hash). */
export function parsePasswordHash(text: string): ParsedHash {
  const m = HASH_PATTERN.exec(text);
  if (!m) throw new Error('not an scrypt password hash (scrypt$N$r$p$salt$hash, made by hashAdminPassword)');
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 ** 14 || N > 2 ** 20 || (N & (N - 1)) !== 0) throw new Error('scrypt N must be a power of two from 16384 to 1048576');
  if (r < 1 || r > 32 || p < 1 || p > 16) throw new Error('scrypt r must be 1..32 and p 1..16');
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 16) throw new Error('the salt must be at least 16 bytes');
  if (hash.length < 32 || hash.length > 64) throw new Error('the hash must be 32 to 64 bytes');
  return { N, r, p, salt, hash };
}

function scryptOptions(h: Pick<ParsedHash, 'N' | 'r' | 'p'>): ScryptOptions {
  return { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 };
}

/** Makes the value for `admin.users[].passwordHash`. */
export function hashAdminPassword(password: string, cost: { N?: number; r?: number; p?: number } = {}): string {
  if (password.length < 12) throw new Error('an admin password needs at least 12 characters');
  const params = { N: cost.N ?? 2 ** 15, r: cost.r ?? 8, p: cost.p ?? 1 };
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, scryptOptions(params));
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function scrypt(password: string, h: ParsedHash): Promise<Buffer> {
  // The async form runs in libuv's pool, off the event loop that answers hook calls.
  return new Promise((resolve, reject) => scryptCallback(password, h.salt, h.hash.length, scryptOptions(h), (err, key) => (err ? reject(err) : resolve(key))));
}

function unauthorized(): ServiceError {
  return new ServiceError('unauthorized', 'unauthorized');
}

function parseBasic(value: string): { name: string; password: string } | undefined {
  let decoded: string;
  try {
    decoded = Buffer.from(value, 'base64').toString('utf8');
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Remembers recent successful sign-ins for a while: the dashboard polls every few seconds, scrypt costs ~50 ms. */
class VerifiedCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, number>();
  constructor(private readonly ttlMs: number) {}
  private id(name: string, password: string): string {
    return createHash('sha256').update(this.key).update(name).update('\0').update(password).digest('base64');
  }
  has(name: string, password: string): boolean {
    const id = this.id(name, password);
    const until = this.entries.get(id);
    if (until === undefined) return false;
    if (until < Date.now()) {
      this.entries.delete(id);
      return false;
    }
    return true;
  }
  add(name: string, password: string): void {
    if (this.entries.size > 1000) this.entries.clear();
    this.entries.set(this.id(name, password), Date.now() + this.ttlMs);
  }
}

export function createAdminAuthenticator(settings: AdminSettings, hookAuth: Authenticator, options: { cacheMs?: number } = {}): AdminAuthenticator {
  if (hookAuth.mode === 'disabled') return { open: true, authenticate: async () => ({ kind: 'open', name: 'anonymous (auth disabled)' }) };
  const users = new Map(settings.users.map((u) => [u.name, parsePasswordHash(u.passwordHash)] as const));
  // An unknown user costs the same scrypt as a known one, so timing does not tell which names exist.
  const decoy: ParsedHash = { N: 2 ** 15, r: 8, p: 1, salt: randomBytes(16), hash: randomBytes(32) };
  const cache = new VerifiedCache(options.cacheMs ?? 5 * 60_000);
  const issuers = settings.jwt.issuers ? new Set(settings.jwt.issuers) : undefined;
  return {
    open: false,
    async authenticate(authorization, audience) {
      if (!authorization) throw unauthorized();
      const [scheme, value] = authorization.split(/\s+/, 2) as [string, string | undefined];
      if (/^basic$/i.test(scheme) && value) {
        const creds = parseBasic(value);
        if (!creds) throw unauthorized();
        if (users.has(creds.name) && cache.has(creds.name, creds.password)) return { kind: 'basic', name: creds.name };
        const stored = users.get(creds.name) ?? decoy;
        const derived = await scrypt(creds.password, stored);
        const match = derived.length === stored.hash.length && timingSafeEqual(derived, stored.hash);
        if (!match || !users.has(creds.name)) throw unauthorized();
        cache.add(creds.name, creds.password);
        return { kind: 'basic', name: creds.name };
      }
      if (/^bearer$/i.test(scheme) && value) {
        const client = await hookAuth.authenticate(authorization, audience);
        if (!client) throw unauthorized();
        if (issuers && !issuers.has(client.issuer)) throw unauthorized();
        if (settings.jwt.scope !== undefined) {
          // The signature, issuer, audience and lifetime were verified above; only the scope is read here.
          const scope = decodeJwt(value).scope;
          const scopes = typeof scope === 'string' ? scope.split(/\s+/) : [];
          if (!scopes.includes(settings.jwt.scope)) throw unauthorized();
        }
        return { kind: 'jwt', name: client.issuer };
      }
      throw unauthorized();
    },
  };
}
