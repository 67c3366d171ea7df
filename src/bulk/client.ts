// FHIR Bulk Data Access 2.0 client: kick-off, status polling, manifest, parallel streamed NDJSON downloads with
// retries and resume, error files, cancellation. Progress goes out as typed ExportEvents.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { OperationOutcome } from 'fhir/r4';
import type { BackendServicesAuth } from './backend-auth.ts';
import type { ExportEvent, ExportLevel, ExportListener } from './events.ts';

export interface ExportRequest {
  level: ExportLevel;
  groupId?: string;
  types?: string[];
  since?: string;
  typeFilters?: string[];
}

export interface ManifestEntry {
  type: string;
  url: string;
  count?: number;
}

export interface ExportManifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: ManifestEntry[];
  error: ManifestEntry[];
}

export interface BulkClientOptions {
  baseUrl: string;
  auth?: BackendServicesAuth;
  onEvent?: ExportListener;
  /** Overall bound on waiting for the export to complete. */
  pollTimeoutMs?: number;
  /** Poll interval when the server gives no Retry-After; doubles up to maxPollMs. */
  minPollMs?: number;
  maxPollMs?: number;
  downloadConcurrency?: number;
  /** Attempts per file (and per transient status error) before giving up. */
  retries?: number;
  retryBaseMs?: number;
}

export type BulkErrorKind = 'kick-off' | 'status' | 'timeout' | 'download' | 'cancelled' | 'auth' | 'manifest';

export class BulkExportError extends Error {
  constructor(
    readonly kind: BulkErrorKind,
    message: string,
    readonly status?: number,
    readonly outcome?: OperationOutcome,
  ) {
    super(message);
    this.name = 'BulkExportError';
  }
}

export interface DownloadedFile {
  type: string;
  url: string;
  path: string;
  bytes: number;
  lines: number;
}

export interface ExportResult {
  statusUrl: string;
  manifest: ExportManifest;
  files: DownloadedFile[];
  errorFiles: DownloadedFile[];
  /** OperationOutcome issues reported in the export's error files. */
  errorIssues: number;
  elapsedMs: number;
}

/** Saved next to the downloads so that a restarted run resumes instead of exporting again. */
interface ExportState {
  statusUrl: string;
  manifest?: ExportManifest;
}

const STATE_FILE = 'export-state.json';

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new BulkExportError('cancelled', 'export cancelled'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new BulkExportError('cancelled', 'export cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

async function readOutcome(res: Response): Promise<OperationOutcome | undefined> {
  try {
    const body = (await res.json()) as { resourceType?: string };
    return body.resourceType === 'OperationOutcome' ? (body as OperationOutcome) : undefined;
  } catch {
    return undefined;
  }
}

function outcomeText(outcome: OperationOutcome | undefined): string {
  const first = outcome?.issue?.[0];
  return first ? `: ${first.diagnostics ?? first.details?.text ?? first.code}` : '';
}

function safeFileName(type: string, index: number, suffix: string): string {
  const clean = type.replace(/[^A-Za-z0-9]/g, '') || 'Resource';
  return `${clean}.${String(index).padStart(3, '0')}${suffix}`;
}

function parseManifest(body: unknown): ExportManifest {
  const m = body as Partial<ExportManifest> & { output?: unknown; error?: unknown };
  if (!m || typeof m !== 'object' || typeof m.transactionTime !== 'string' || !Array.isArray(m.output)) {
    throw new BulkExportError('manifest', 'export manifest lacks transactionTime or output');
  }
  const entries = (list: unknown, field: string): ManifestEntry[] =>
    (Array.isArray(list) ? list : []).map((e, i) => {
      const entry = e as Partial<ManifestEntry>;
      if (typeof entry.type !== 'string' || typeof entry.url !== 'string') {
        throw new BulkExportError('manifest', `export manifest ${field}[${i}] needs type and url`);
      }
      return { type: entry.type, url: entry.url, ...(typeof entry.count === 'number' ? { count: entry.count } : {}) };
    });
  return {
    transactionTime: m.transactionTime,
    request: typeof m.request === 'string' ? m.request : '',
    requiresAccessToken: m.requiresAccessToken === true,
    output: entries(m.output, 'output'),
    error: entries(m.error, 'error'),
  };
}

export class BulkDataClient {
  private readonly baseUrl: string;

  constructor(private readonly options: BulkClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  private emit(event: ExportEvent): void {
    this.options.onEvent?.(event);
  }

  private async authHeaders(signal?: AbortSignal): Promise<Record<string, string>> {
    if (!this.options.auth) return {};
    try {
      const token = await this.options.auth.token(signal);
      this.emit({ type: 'token', cached: token.cached, expiresIn: token.expiresIn });
      return { authorization: `Bearer ${token.accessToken}` };
    } catch (err) {
      throw new BulkExportError('auth', (err as Error).message, (err as { status?: number }).status);
    }
  }

  /** Sends a request with the bearer token; on 401 refreshes the token once and tries again. */
  private async send(url: string, init: RequestInit & { headers: Record<string, string> }, signal?: AbortSignal): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const headers = { ...init.headers, ...(await this.authHeaders(signal)) };
      let res: Response;
      try {
        res = await fetch(url, { ...init, headers, signal });
      } catch (err) {
        if (signal?.aborted) throw new BulkExportError('cancelled', 'export cancelled');
        throw err;
      }
      if (res.status === 401 && this.options.auth && attempt === 0) {
        await res.body?.cancel();
        this.options.auth.invalidate();
        continue;
      }
      return res;
    }
  }

  kickOffUrl(request: ExportRequest): string {
    const path =
      request.level === 'system'
        ? '$export'
        : request.level === 'patient'
          ? 'Patient/$export'
          : `Group/${encodeURIComponent(request.groupId ?? '')}/$export`;
    if (request.level === 'group' && !request.groupId) throw new BulkExportError('kick-off', 'a group-level export needs a group id');
    const params = new URLSearchParams({ _outputFormat: 'application/fhir+ndjson' });
    if (request.types?.length) params.set('_type', request.types.join(','));
    if (request.since) params.set('_since', request.since);
    for (const filter of request.typeFilters ?? []) params.append('_typeFilter', filter);
    return `${this.baseUrl}/${path}?${params.toString()}`;
  }

  /** Starts an export; returns the status URL from Content-Location. */
  async kickOff(request: ExportRequest, signal?: AbortSignal): Promise<string> {
    const url = this.kickOffUrl(request);
    let res: Response;
    try {
      res = await this.send(url, { method: 'GET', headers: { accept: 'application/fhir+json', prefer: 'respond-async' } }, signal);
    } catch (err) {
      if (err instanceof BulkExportError) throw err;
      throw new BulkExportError('kick-off', `kick-off ${url} failed: ${(err as Error).message}`);
    }
    if (res.status !== 202) {
      const outcome = await readOutcome(res);
      throw new BulkExportError('kick-off', `kick-off answered ${res.status}${outcomeText(outcome)}`, res.status, outcome);
    }
    await res.body?.cancel();
    const location = res.headers.get('content-location');
    if (!location) throw new BulkExportError('kick-off', 'kick-off answered 202 without Content-Location');
    const statusUrl = new URL(location, url).toString();
    this.emit({ type: 'kick-off', url, statusUrl });
    return statusUrl;
  }

  /** Polls the status URL until the manifest is ready, honouring Retry-After, within the overall bound. */
  async waitForManifest(statusUrl: string, signal?: AbortSignal): Promise<ExportManifest> {
    const started = Date.now();
    const bound = this.options.pollTimeoutMs ?? 60 * 60 * 1000;
    const minPoll = this.options.minPollMs ?? 1000;
    const maxPoll = this.options.maxPollMs ?? 60_000;
    const retries = this.options.retries ?? 5;
    let interval = minPoll;
    let transientFailures = 0;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.send(statusUrl, { method: 'GET', headers: { accept: 'application/json' } }, signal);
      } catch (err) {
        if (err instanceof BulkExportError) throw err;
        res = new Response(null, { status: 599, statusText: (err as Error).message });
      }
      const elapsedMs = Date.now() - started;
      if (res.status === 200) {
        let body: unknown;
        try {
          body = await res.json();
        } catch {
          throw new BulkExportError('manifest', 'export manifest is not JSON', 200);
        }
        const manifest = parseManifest(body);
        this.emit({
          type: 'manifest',
          files: manifest.output.length,
          errorFiles: manifest.error.length,
          requiresAccessToken: manifest.requiresAccessToken,
          transactionTime: manifest.transactionTime,
        });
        return manifest;
      }
      let delay: number;
      if (res.status === 202 || res.status === 429) {
        transientFailures = 0;
        const progress = res.headers.get('x-progress') ?? undefined;
        const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
        await res.body?.cancel();
        delay = retryAfter ?? interval;
        interval = Math.min(interval * 2, maxPoll);
        this.emit({ type: 'status', attempt, ...(progress ? { progress } : {}), retryAfterMs: delay, elapsedMs });
      } else if (res.status >= 500) {
        const outcome = await readOutcome(res);
        // A server error on the status URL is either transient or the export failed for good:
        // retry a bounded number of times before reporting it.
        if (++transientFailures > retries) {
          throw new BulkExportError('status', `export status answered ${res.status}${outcomeText(outcome)}`, res.status, outcome);
        }
        delay = Math.min((this.options.retryBaseMs ?? 500) * 2 ** (transientFailures - 1), maxPoll);
        this.emit({ type: 'status', attempt, progress: `server error ${res.status}, retrying`, retryAfterMs: delay, elapsedMs });
      } else {
        const outcome = await readOutcome(res);
        throw new BulkExportError('status', `export failed: status ${res.status}${outcomeText(outcome)}`, res.status, outcome);
      }
      if (elapsedMs + delay > bound) {
        throw new BulkExportError('timeout', `export did not complete within ${Math.round(bound / 1000)} s`);
      }
      await sleep(delay, signal);
    }
  }

  /** Asks the server to cancel (and delete) an export. */
  async cancel(statusUrl: string): Promise<void> {
    const res = await this.send(statusUrl, { method: 'DELETE', headers: { accept: 'application/json' } });
    if (res.status !== 202 && res.status !== 200 && res.status !== 204 && res.status !== 404) {
      const outcome = await readOutcome(res);
      throw new BulkExportError('status', `cancel answered ${res.status}${outcomeText(outcome)}`, res.status, outcome);
    }
    await res.body?.cancel();
    this.emit({ type: 'cancelled', statusUrl });
  }

  /** Downloads one file to `path`, resuming a partial `.part` file with a Range request when the server allows. */
  private async downloadFile(entry: ManifestEntry, path: string, requiresToken: boolean, signal?: AbortSignal): Promise<DownloadedFile> {
    const part = `${path}.part`;
    const retries = this.options.retries ?? 5;
    for (let attempt = 1; ; attempt++) {
      const existing = await stat(part).then((s) => s.size, () => 0);
      this.emit({ type: 'download-start', file: path, resourceType: entry.type, resumeFrom: existing });
      try {
        const headers: Record<string, string> = { accept: 'application/fhir+ndjson' };
        if (existing > 0) headers.range = `bytes=${existing}-`;
        const res = requiresToken
          ? await this.send(entry.url, { method: 'GET', headers }, signal)
          : await fetch(entry.url, { headers, signal });
        if (res.status !== 200 && res.status !== 206) {
          const outcome = await readOutcome(res);
          const err = new BulkExportError('download', `download of ${entry.url} answered ${res.status}${outcomeText(outcome)}`, res.status, outcome);
          // 4xx other than 408/429 (and 401 when a fresh token can be had) will not get better by retrying.
          const retryable = res.status >= 500 || res.status === 408 || res.status === 429 || (res.status === 401 && this.options.auth !== undefined);
          if (!retryable) throw Object.assign(err, { final: true });
          throw err;
        }
        const append = res.status === 206 && existing > 0;
        let bytes = append ? existing : 0;
        let lastReport = 0;
        const counter = new Transform({
          transform: (chunk: Buffer, _enc, done) => {
            bytes += chunk.length;
            if (bytes - lastReport > 1 << 20) {
              lastReport = bytes;
              this.emit({ type: 'download-progress', file: path, bytes });
            }
            done(null, chunk);
          },
        });
        if (!res.body) throw new BulkExportError('download', `download of ${entry.url} has no body`);
        await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), counter, createWriteStream(part, { flags: append ? 'a' : 'w' }), { signal });
        const lines = await countLines(part);
        await rename(part, path);
        this.emit({ type: 'download-end', file: path, bytes, lines });
        return { type: entry.type, url: entry.url, path, bytes, lines };
      } catch (err) {
        if (signal?.aborted) throw new BulkExportError('cancelled', 'export cancelled');
        const final = (err as { final?: boolean }).final === true;
        if (final || attempt >= retries) {
          throw err instanceof BulkExportError ? err : new BulkExportError('download', `download of ${entry.url} failed: ${(err as Error).message}`);
        }
        const delayMs = (this.options.retryBaseMs ?? 500) * 2 ** (attempt - 1);
        this.emit({ type: 'download-retry', file: path, attempt, reason: (err as Error).message, delayMs });
        await sleep(delayMs, signal);
      }
    }
  }

  /** Downloads every output (and error) file of a manifest into `outDir`, a few at a time; finished files are kept. */
  async download(manifest: ExportManifest, outDir: string, signal?: AbortSignal): Promise<{ files: DownloadedFile[]; errorFiles: DownloadedFile[] }> {
    if (manifest.requiresAccessToken && !this.options.auth) {
      throw new BulkExportError('auth', 'the export requires an access token, and no backend-services credentials are configured');
    }
    await mkdir(join(outDir, 'errors'), { recursive: true });
    const perType = new Map<string, number>();
    const jobs = [
      ...manifest.output.map((entry) => {
        const index = perType.get(entry.type) ?? 0;
        perType.set(entry.type, index + 1);
        return { entry, path: join(outDir, safeFileName(entry.type, index, '.ndjson')), isError: false };
      }),
      ...manifest.error.map((entry, index) => ({ entry, path: join(outDir, 'errors', safeFileName(entry.type, index, '.ndjson')), isError: true })),
    ];
    const files: DownloadedFile[] = [];
    const errorFiles: DownloadedFile[] = [];
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        const done = await stat(job.path).then((s) => s.isFile(), () => false);
        const file = done
          ? { type: job.entry.type, url: job.entry.url, path: job.path, bytes: (await stat(job.path)).size, lines: await countLines(job.path) }
          : await this.downloadFile(job.entry, job.path, manifest.requiresAccessToken, signal);
        (job.isError ? errorFiles : files).push(file);
      }
    };
    const concurrency = Math.max(1, this.options.downloadConcurrency ?? 4);
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
    files.sort((a, b) => a.path.localeCompare(b.path));
    return { files, errorFiles };
  }

  /**
   * The whole protocol: kick-off (or resume a saved status URL), wait for the manifest, download, count error issues.
   * State is saved in `outDir` so that a run killed midway resumes without a new export.
   */
  async export(request: ExportRequest, outDir: string, signal?: AbortSignal): Promise<ExportResult> {
    const started = Date.now();
    await mkdir(outDir, { recursive: true });
    const statePath = join(outDir, STATE_FILE);
    let state: ExportState | undefined = await readFile(statePath, 'utf8').then(
      (text) => JSON.parse(text) as ExportState,
      () => undefined,
    );
    if (!state) {
      state = { statusUrl: await this.kickOff(request, signal) };
      await writeFile(statePath, JSON.stringify(state, null, 2));
    }
    if (!state.manifest) {
      try {
        state.manifest = await this.waitForManifest(state.statusUrl, signal);
      } catch (err) {
        // A failed or abandoned export leaves no state behind: the next run starts a fresh one.
        if (err instanceof BulkExportError && err.kind !== 'cancelled') await rm(statePath, { force: true });
        throw err;
      }
      await writeFile(statePath, JSON.stringify(state, null, 2));
    }
    const manifest = state.manifest;
    const { files, errorFiles } = await this.download(manifest, outDir, signal);
    let errorIssues = 0;
    for (const file of errorFiles) {
      const issues = await countOutcomeIssues(file.path);
      errorIssues += issues;
      this.emit({ type: 'error-file', file: file.path, issues });
    }
    await writeFile(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    const elapsedMs = Date.now() - started;
    this.emit({
      type: 'complete',
      files: files.length,
      bytes: files.reduce((s, f) => s + f.bytes, 0),
      lines: files.reduce((s, f) => s + f.lines, 0),
      elapsedMs,
    });
    return { statusUrl: state.statusUrl, manifest, files, errorFiles, errorIssues, elapsedMs };
  }
}

async function countLines(path: string): Promise<number> {
  const { createReadStream } = await import('node:fs');
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(path)) {
    const buf = chunk as Buffer;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
    if (buf.length > 0) last = buf[buf.length - 1]!;
  }
  // A final line without a newline still counts.
  const size = (await stat(path)).size;
  return size > 0 && last !== 10 ? lines + 1 : lines;
}

async function countOutcomeIssues(path: string): Promise<number> {
  const text = await readFile(path, 'utf8');
  let issues = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const outcome = JSON.parse(line) as OperationOutcome;
      issues += outcome.issue?.length ?? 0;
    } catch {
      issues += 1;
    }
  }
  return issues;
}
