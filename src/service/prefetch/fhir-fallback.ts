// Reads what prefetch did not give from the client's FHIR server, with its bearer token, within the call's deadline.
// The token only ever goes into the Authorization header of requests to that server: never into errors or logs.
import { Client } from 'fhir-kit-client';
import type { Bundle, FhirResource } from 'fhir/r4';
import type { FallbackOutcome, HookMetrics } from '../hooks/ports.ts';
import { bundleResources, nextLink } from './classify.ts';

export class FallbackError extends Error {
  constructor(
    readonly outcome: FallbackOutcome,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FallbackError';
  }
}

export interface FallbackOptions {
  baseUrl: string;
  accessToken?: string;
  /** Absolute time (ms since epoch) after which requests are aborted. */
  deadline: number;
  signal?: AbortSignal;
  metrics?: HookMetrics;
  /** Pages followed per search, the first included. */
  maxPages?: number;
  /** `_count` asked of the server. */
  pageSize?: number;
}

export interface SearchResult {
  resources: FhirResource[];
  /** True when the page bound stopped us before the last page. */
  truncated: boolean;
}

/** fhir-kit-client prints request headers (the bearer token) when DEBUG enables `fhir-kit-client:info`. */
export function headerLoggingEnabled(debugEnv = process.env.DEBUG): boolean {
  if (!debugEnv) return false;
  let enabled = false;
  for (const raw of debugEnv.split(/[\s,]+/)) {
    if (!raw) continue;
    const negative = raw.startsWith('-');
    const pattern = new RegExp(`^${(negative ? raw.slice(1) : raw).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (pattern.test('fhir-kit-client:info')) enabled = !negative;
  }
  return enabled;
}

function isBundle(value: unknown): value is Bundle {
  return typeof value === 'object' && value !== null && (value as { resourceType?: unknown }).resourceType === 'Bundle';
}

function isResource(value: unknown): value is FhirResource {
  return typeof value === 'object' && value !== null && typeof (value as { resourceType?: unknown }).resourceType === 'string';
}

export class FhirFallback {
  private readonly client: Client;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly base: URL;
  private readonly maxPages: number;
  private readonly pageSize: number;
  private readonly refusal?: string;

  constructor(private readonly options: FallbackOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      this.refusal = `fhirServer ${this.base.protocol} URLs are not supported`;
    } else if (options.accessToken && headerLoggingEnabled()) {
      this.refusal = 'FHIR fallback disabled: DEBUG enables fhir-kit-client header logging, which would log the access token';
    }
    this.maxPages = Math.max(1, options.maxPages ?? 10);
    this.pageSize = Math.max(1, options.pageSize ?? 200);
    const customHeaders: Record<string, string> = { accept: 'application/fhir+json' };
    if (options.accessToken) customHeaders.authorization = `Bearer ${options.accessToken}`;
    this.client = new Client({ baseUrl: this.base.href.replace(/\/$/, ''), customHeaders });
    const wait = Math.max(0, options.deadline - Date.now());
    this.timer = setTimeout(() => this.controller.abort(new FallbackError('timeout', 'time budget spent')), wait);
    this.timer.unref();
    if (options.signal) {
      if (options.signal.aborted) this.controller.abort(new FallbackError('timeout', 'call aborted'));
      else options.signal.addEventListener('abort', () => this.controller.abort(new FallbackError('timeout', 'call aborted')), { once: true });
    }
  }

  /** Stops the deadline timer and aborts anything still in flight. */
  close(): void {
    clearTimeout(this.timer);
    if (!this.controller.signal.aborted) this.controller.abort(new FallbackError('timeout', 'fallback closed'));
  }

  get usable(): boolean {
    return this.refusal === undefined;
  }

  async read(resourceType: string, id: string): Promise<FhirResource> {
    const value = await this.request(resourceType, () =>
      this.client.read({ resourceType, id, options: { signal: this.controller.signal } }),
    );
    if (!isResource(value) || value.resourceType !== resourceType) {
      throw new FallbackError('http-error', `${resourceType}/${id}: the server answered with something that is not a ${resourceType}`);
    }
    return value;
  }

  async search(resourceType: string, params: Record<string, string>): Promise<SearchResult> {
    const first = await this.request(resourceType, () =>
      this.client.search({
        resourceType,
        searchParams: { ...params, _count: String(this.pageSize) },
        options: { signal: this.controller.signal },
      }),
    );
    if (!isBundle(first)) throw new FallbackError('http-error', `${resourceType} search: the server did not answer with a Bundle`);
    return this.follow(resourceType, first, 1);
  }

  /** Continues a search Bundle (from prefetch or the server) through its next links, up to the page bound. */
  async follow(resourceType: string, bundle: Bundle, pagesSoFar = 1): Promise<SearchResult> {
    const resources = bundleResources(bundle);
    let current = bundle;
    let pages = pagesSoFar;
    for (let next = nextLink(current); next; next = nextLink(current)) {
      if (pages >= this.maxPages) return { resources, truncated: true };
      const url = this.sameServer(next);
      const page = await this.request(resourceType, () =>
        this.client.nextPage({ bundle: { ...current, link: [{ relation: 'next', url }] }, options: { signal: this.controller.signal } }),
      );
      if (!isBundle(page)) throw new FallbackError('http-error', `${resourceType} search: a next page is not a Bundle`);
      resources.push(...bundleResources(page));
      current = page;
      pages += 1;
    }
    return { resources, truncated: false };
  }

  /** A next link may point anywhere; only links on the client's FHIR server get the token. */
  private sameServer(link: string): string {
    let url: URL;
    try {
      url = new URL(link, this.base);
    } catch {
      throw new FallbackError('refused', 'a next link is not a URL');
    }
    if (url.origin !== this.base.origin || !url.pathname.startsWith(this.base.pathname)) {
      throw new FallbackError('refused', `a next link points outside fhirServer (${url.origin})`);
    }
    return url.href;
  }

  private async request(resourceType: string, run: () => Promise<unknown> | undefined): Promise<unknown> {
    if (this.refusal) {
      this.options.metrics?.fallbackRequest(resourceType, 'refused', 0);
      throw new FallbackError('refused', this.refusal);
    }
    if (this.controller.signal.aborted) {
      this.options.metrics?.fallbackRequest(resourceType, 'timeout', 0);
      throw new FallbackError('timeout', `${resourceType}: time budget spent before the request`);
    }
    const started = performance.now();
    const done = (outcome: FallbackOutcome) =>
      this.options.metrics?.fallbackRequest(resourceType, outcome, (performance.now() - started) / 1000);
    try {
      const value = await run();
      done('ok');
      return value;
    } catch (err) {
      const failure = this.classify(resourceType, err);
      done(failure.outcome);
      throw failure;
    }
  }

  private classify(resourceType: string, err: unknown): FallbackError {
    if (err instanceof FallbackError) return err;
    if (this.controller.signal.aborted) {
      const reason = this.controller.signal.reason;
      return reason instanceof FallbackError ? new FallbackError(reason.outcome, `${resourceType}: ${reason.message}`) : new FallbackError('timeout', `${resourceType}: aborted`);
    }
    const status = (err as { response?: { status?: unknown } } | null)?.response?.status;
    if (typeof status === 'number') {
      return new FallbackError('http-error', `${resourceType}: the FHIR server answered HTTP ${status}`, status);
    }
    const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
    return new FallbackError('network-error', `${resourceType}: the FHIR server could not be reached${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}
