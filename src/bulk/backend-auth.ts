// SMART Backend Services: client-credentials grant with a signed JWT assertion; the token is cached until shortly before expiry.
import { importJWK, SignJWT, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';

export const BACKEND_ALGORITHMS = ['RS384', 'ES384'] as const;
export type BackendAlgorithm = (typeof BACKEND_ALGORITHMS)[number];

export interface BackendServicesConfig {
  tokenUrl: string;
  clientId: string;
  /** Private JWK with `kid`; its `alg` (RS384 or ES384) is used unless `algorithm` is given. */
  privateKey: JWK;
  algorithm?: BackendAlgorithm;
  scope: string;
  /** Refresh this many seconds before `expires_in` runs out. */
  refreshSkewSeconds?: number;
}

export class BulkAuthError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'BulkAuthError';
  }
}

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

export class BackendServicesAuth {
  private cached: CachedToken | undefined;
  private inFlight: Promise<CachedToken> | undefined;
  private readonly algorithm: BackendAlgorithm;

  constructor(
    private readonly config: BackendServicesConfig,
    private readonly now: () => number = Date.now,
  ) {
    const alg: string | undefined = config.algorithm ?? config.privateKey.alg;
    if (alg !== 'RS384' && alg !== 'ES384') {
      throw new BulkAuthError(`backend services key must be RS384 or ES384, got ${alg ?? 'no alg'}`);
    }
    if (!config.privateKey.kid) throw new BulkAuthError('backend services key needs a kid');
    this.algorithm = alg;
  }

  /** A valid access token, from cache when it has not expired. */
  async token(signal?: AbortSignal): Promise<{ accessToken: string; cached: boolean; expiresIn: number }> {
    const skew = (this.config.refreshSkewSeconds ?? 30) * 1000;
    const now = this.now();
    if (this.cached && this.cached.expiresAt - skew > now) {
      return { accessToken: this.cached.accessToken, cached: true, expiresIn: Math.round((this.cached.expiresAt - now) / 1000) };
    }
    // One request at a time: parallel downloads that all see an expired token share one refresh.
    this.inFlight ??= this.request(signal).finally(() => {
      this.inFlight = undefined;
    });
    this.cached = await this.inFlight;
    return { accessToken: this.cached.accessToken, cached: false, expiresIn: Math.round((this.cached.expiresAt - now) / 1000) };
  }

  /** Forget the cached token (after a 401 from the data server). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async request(signal?: AbortSignal): Promise<CachedToken> {
    const key = await importJWK(this.config.privateKey, this.algorithm);
    const nowSeconds = Math.floor(this.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: this.algorithm, kid: this.config.privateKey.kid!, typ: 'JWT' })
      .setIssuer(this.config.clientId)
      .setSubject(this.config.clientId)
      .setAudience(this.config.tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + 300)
      .sign(key);
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: this.config.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    let res: Response;
    try {
      res = await fetch(this.config.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal,
      });
    } catch (err) {
      throw new BulkAuthError(`token endpoint ${this.config.tokenUrl} unreachable: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      // The body of an OAuth error names the problem (invalid_client, invalid_scope); it holds no secret.
      throw new BulkAuthError(`token endpoint answered ${res.status}: ${text.slice(0, 300)}`, res.status);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new BulkAuthError('token endpoint answered with something other than JSON', res.status);
    }
    const p = parsed as { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    if (typeof p.access_token !== 'string' || p.access_token.length === 0) {
      throw new BulkAuthError('token endpoint answer has no access_token', res.status);
    }
    if (typeof p.token_type === 'string' && p.token_type.toLowerCase() !== 'bearer') {
      throw new BulkAuthError(`token endpoint gave token_type ${p.token_type}, expected bearer`, res.status);
    }
    const expiresIn = typeof p.expires_in === 'number' && p.expires_in > 0 ? p.expires_in : 300;
    return { accessToken: p.access_token, expiresAt: this.now() + expiresIn * 1000 };
  }
}
