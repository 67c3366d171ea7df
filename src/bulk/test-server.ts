// A Bulk Data Access 2.0 server for tests, benchmarks and integrators' dry runs, on loopback only. It serves the
// NDJSON(.gz) files of a folder (e.g. written by `leader-cds synth`) through kick-off, status polling, manifest,
// file downloads with Range support and a SMART Backend Services token endpoint, and it can misbehave on purpose.
import express, { type Request, type Response } from 'express';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { OperationOutcome } from 'fhir/r4';

export interface BulkTestClient {
  clientId: string;
  jwks: JSONWebKeySet;
  scope?: string;
}

export interface BulkTestFaults {
  /** Polls answered 202 before the manifest (with X-Progress). */
  pollsBeforeReady?: number;
  /** Retry-After seconds sent with each 202. */
  retryAfterSeconds?: number;
  /** The first N status polls answer 500. */
  statusErrors?: number;
  /** The job never completes (always 202). */
  neverCompletes?: boolean;
  /** The job fails: status answers 500 with an OperationOutcome for good. */
  jobFails?: boolean;
  /** Kick-off answers 500 this many times first. */
  kickOffErrors?: number;
  /** The first download of each file is cut after this many bytes. */
  breakFilesAfterBytes?: number;
  /** The first download of each file answers 500. */
  fileErrorsOnce?: boolean;
  /** Tokens expire after this many seconds (short values exercise refresh). */
  tokenLifetimeSeconds?: number;
  /** The first download request is answered 401 and every token revoked (a server that rotated its keys mid-run). */
  revokeTokensOnFirstDownload?: boolean;
}

export interface BulkTestServerOptions {
  dataDir: string;
  /** Without clients, no token is needed (requiresAccessToken false). */
  clients?: BulkTestClient[];
  groups?: Record<string, string[]>;
  maxLinesPerFile?: number;
  faults?: BulkTestFaults;
}

interface Job {
  id: string;
  dir: string;
  request: string;
  transactionTime: string;
  polls: number;
  ready: boolean;
  failed?: string;
  cancelled?: boolean;
  materialising?: Promise<void>;
  output: Array<{ type: string; name: string; count: number }>;
  errors: Array<{ name: string; count: number }>;
}

export interface BulkTestServer {
  baseUrl: string;
  tokenUrl: string;
  /** Counters tests assert on. */
  stats: { kickOffs: number; polls: number; downloads: number; rangeRequests: number; tokens: number; deletes: number };
  close(): Promise<void>;
}

const EXPORT_TYPES = new Set(['Patient', 'Encounter', 'Condition', 'Procedure', 'MedicationRequest', 'Medication', 'Observation', 'Group']);

function outcome(code: string, diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: code as 'invalid', diagnostics }] };
}

function fail(res: Response, status: number, code: string, diagnostics: string): void {
  res.status(status).type('application/fhir+json').json(outcome(code, diagnostics));
}

async function* sourceLines(dataDir: string): AsyncGenerator<string> {
  const names = (await readdir(dataDir)).filter((n) => /\.ndjson(\.gz)?$/.test(n)).sort();
  for (const name of names) {
    const raw = createReadStream(join(dataDir, name));
    const input = name.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line.trim()) yield line;
  }
}

/** `Type?field=value&...` with top-level string equality: enough to exercise _typeFilter end to end. */
function parseTypeFilters(filters: string[]): Map<string, Array<[string, string]>> | string {
  const byType = new Map<string, Array<[string, string]>>();
  for (const filter of filters) {
    const [type, query] = filter.split('?', 2);
    if (!type || !query || !EXPORT_TYPES.has(type)) return `_typeFilter "${filter}" is not Type?query`;
    byType.set(type, [...(byType.get(type) ?? []), ...new URLSearchParams(query).entries()]);
  }
  return byType;
}

function patientOf(resource: Record<string, unknown>): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id as string;
  const ref = ((resource.subject ?? resource.patient) as { reference?: string } | undefined)?.reference;
  return ref?.startsWith('Patient/') ? ref.slice(8) : undefined;
}

export async function startBulkTestServer(options: BulkTestServerOptions): Promise<BulkTestServer> {
  const faults = options.faults ?? {};
  const jobs = new Map<string, Job>();
  const tokens = new Map<string, number>(); // token -> expiry ms
  const seenJti = new Set<string>();
  const fileAttempts = new Map<string, number>();
  const stats = { kickOffs: 0, polls: 0, downloads: 0, rangeRequests: 0, tokens: 0, deletes: 0 };
  let kickOffErrors = faults.kickOffErrors ?? 0;
  let statusErrors = faults.statusErrors ?? 0;
  let revoked = false;
  const requireAuth = (options.clients?.length ?? 0) > 0;
  const app = express();
  app.disable('x-powered-by');
  let baseUrl = '';

  const authorised = (req: Request): boolean => {
    if (!requireAuth) return true;
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const expiry = tokens.get(token);
    return expiry !== undefined && expiry > Date.now();
  };

  app.post('/auth/token', express.urlencoded({ extended: false }), async (req, res) => {
    const body = req.body as Record<string, string>;
    if (body.grant_type !== 'client_credentials') return res.status(400).json({ error: 'unsupported_grant_type' });
    if (body.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !body.client_assertion) {
      return res.status(400).json({ error: 'invalid_request' });
    }
    const unverified = JSON.parse(Buffer.from(body.client_assertion.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}') as { iss?: string };
    const client = options.clients?.find((c) => c.clientId === unverified.iss);
    if (!client) return res.status(401).json({ error: 'invalid_client' });
    try {
      const { payload } = await jwtVerify(body.client_assertion, createLocalJWKSet(client.jwks), {
        issuer: client.clientId,
        subject: client.clientId,
        audience: `${baseUrl}/auth/token`,
        algorithms: ['RS384', 'ES384'],
        maxTokenAge: '5 minutes',
      });
      if (!payload.jti || seenJti.has(payload.jti)) return res.status(401).json({ error: 'invalid_client' });
      seenJti.add(payload.jti);
    } catch {
      return res.status(401).json({ error: 'invalid_client' });
    }
    const lifetime = faults.tokenLifetimeSeconds ?? 300;
    const token = randomUUID();
    tokens.set(token, Date.now() + lifetime * 1000);
    stats.tokens++;
    res.json({ access_token: token, token_type: 'bearer', expires_in: lifetime, scope: body.scope ?? client.scope ?? 'system/*.read' });
  });

  const kickOff = (level: 'system' | 'patient' | 'group') => async (req: Request, res: Response) => {
    stats.kickOffs++;
    if (!authorised(req)) return fail(res, 401, 'login', 'a valid bearer token is required');
    if (kickOffErrors > 0) {
      kickOffErrors--;
      return fail(res, 500, 'exception', 'kick-off failed (injected fault)');
    }
    if (req.headers.prefer !== 'respond-async') return fail(res, 400, 'invalid', 'Prefer: respond-async is required');
    const format = (req.query._outputFormat as string | undefined) ?? 'application/fhir+ndjson';
    if (!['application/fhir+ndjson', 'application/ndjson', 'ndjson'].includes(format)) return fail(res, 400, 'invalid', `_outputFormat ${format} is not supported`);
    const types = ((req.query._type as string | undefined) ?? '').split(',').filter(Boolean);
    const unknown = types.filter((t) => !EXPORT_TYPES.has(t));
    if (unknown.length) return fail(res, 400, 'invalid', `_type has unsupported types: ${unknown.join(', ')}`);
    const sinceRaw = req.query._since as string | undefined;
    const since = sinceRaw ? Date.parse(sinceRaw) : undefined;
    if (sinceRaw && Number.isNaN(since)) return fail(res, 400, 'invalid', `_since ${sinceRaw} is not an instant`);
    const rawFilters = req.query._typeFilter;
    const filters = parseTypeFilters(Array.isArray(rawFilters) ? (rawFilters as string[]) : rawFilters ? [rawFilters as string] : []);
    if (typeof filters === 'string') return fail(res, 400, 'invalid', filters);
    let members: Set<string> | undefined;
    if (level === 'group') {
      const ids = options.groups?.[req.params.id ?? ''];
      if (!ids) return fail(res, 404, 'not-found', `Group/${req.params.id} is not known`);
      members = new Set(ids);
    }
    const job: Job = {
      id: randomUUID(),
      dir: await mkdtemp(join(tmpdir(), 'bulk-job-')),
      request: `${baseUrl}${req.originalUrl}`,
      transactionTime: new Date().toISOString(),
      polls: 0,
      ready: false,
      output: [],
      errors: [],
    };
    jobs.set(job.id, job);
    job.materialising = materialise(job, { types, since, filters, members, level }).catch((err: Error) => {
      job.failed = err.message;
    });
    res.status(202).setHeader('content-location', `${baseUrl}/jobs/${job.id}`).type('application/fhir+json').json(outcome('informational', 'export accepted'));
  };

  async function materialise(
    job: Job,
    spec: { types: string[]; since?: number; filters: Map<string, Array<[string, string]>>; members?: Set<string>; level: string },
  ): Promise<void> {
    const maxLines = options.maxLinesPerFile ?? 50_000;
    const writers = new Map<string, { stream: WriteStream; lines: number; index: number; entry: { count: number } }>();
    const errors: OperationOutcome[] = [];
    let lineNo = 0;
    const open = (type: string, index: number) => {
      const name = `${type}.${String(index).padStart(3, '0')}.ndjson`;
      const entry = { type, name, count: 0 };
      job.output.push(entry);
      return { stream: createWriteStream(join(job.dir, name)), lines: 0, index, entry };
    };
    for await (const line of sourceLines(options.dataDir)) {
      if (job.cancelled) break;
      lineNo++;
      let resource: Record<string, unknown>;
      try {
        resource = JSON.parse(line) as Record<string, unknown>;
      } catch {
        errors.push(outcome('structure', `source line ${lineNo} is not JSON`));
        continue;
      }
      const type = resource.resourceType as string;
      if (spec.types.length && !spec.types.includes(type)) continue;
      if (spec.since !== undefined) {
        const updated = Date.parse(((resource.meta as { lastUpdated?: string } | undefined)?.lastUpdated) ?? '');
        if (!Number.isNaN(updated) && updated < spec.since) continue;
      }
      const filter = spec.filters.get(type);
      if (filter && !filter.every(([k, v]) => String(resource[k]) === v)) continue;
      if (spec.members && type !== 'Medication') {
        const patient = patientOf(resource);
        if (!patient || !spec.members.has(patient)) continue;
      }
      let writer = writers.get(type);
      if (!writer || writer.lines >= maxLines) {
        if (writer) writer.stream.end();
        writer = open(type, writer ? writer.index + 1 : 0);
        writers.set(type, writer);
      }
      if (!writer.stream.write(`${line}\n`)) await new Promise<void>((r) => writer!.stream.once("drain", () => r()));
      writer.lines++;
      writer.entry.count = writer.lines;
    }
    await Promise.all([...writers.values()].map((w) => new Promise<void>((r) => w.stream.end(() => r()))));
    if (errors.length) {
      const name = 'errors.000.ndjson';
      const stream = createWriteStream(join(job.dir, name));
      for (const e of errors) stream.write(`${JSON.stringify(e)}\n`);
      await new Promise<void>((r) => stream.end(() => r()));
      job.errors.push({ name, count: errors.length });
    }
    job.ready = true;
  }

  app.get('/\\$export', kickOff('system'));
  app.get('/Patient/\\$export', kickOff('patient'));
  app.get('/Group/:id/\\$export', kickOff('group'));

  app.get('/jobs/:id', (req, res) => {
    stats.polls++;
    if (!authorised(req)) return fail(res, 401, 'login', 'a valid bearer token is required');
    const job = jobs.get(req.params.id);
    if (!job) return fail(res, 404, 'not-found', 'no such export job');
    if (statusErrors > 0) {
      statusErrors--;
      return fail(res, 500, 'transient', 'status check failed (injected fault)');
    }
    if (faults.jobFails || job.failed) return fail(res, 500, 'exception', `export failed: ${job.failed ?? 'injected fault'}`);
    job.polls++;
    const pollsNeeded = faults.pollsBeforeReady ?? 1;
    if (faults.neverCompletes || !job.ready || job.polls <= pollsNeeded) {
      const pct = faults.neverCompletes ? 10 : Math.min(99, Math.round((job.polls / (pollsNeeded + 1)) * 100));
      res.status(202).setHeader('x-progress', `${pct}% exported`).setHeader('retry-after', String(faults.retryAfterSeconds ?? 1));
      return res.end();
    }
    res.json({
      transactionTime: job.transactionTime,
      request: job.request,
      requiresAccessToken: requireAuth,
      output: job.output.map((o) => ({ type: o.type, url: `${baseUrl}/files/${job.id}/${o.name}`, count: o.count })),
      error: job.errors.map((e) => ({ type: 'OperationOutcome', url: `${baseUrl}/files/${job.id}/${e.name}` })),
    });
  });

  app.delete('/jobs/:id', async (req, res) => {
    stats.deletes++;
    if (!authorised(req)) return fail(res, 401, 'login', 'a valid bearer token is required');
    const job = jobs.get(req.params.id);
    if (!job) return fail(res, 404, 'not-found', 'no such export job');
    jobs.delete(job.id);
    job.cancelled = true;
    await job.materialising;
    await rm(job.dir, { recursive: true, force: true });
    res.status(202).end();
  });

  app.get('/files/:id/:name', async (req, res) => {
    stats.downloads++;
    if (req.headers.range) stats.rangeRequests++;
    if (!authorised(req)) return fail(res, 401, 'login', 'a valid bearer token is required');
    const job = jobs.get(req.params.id);
    const name = req.params.name ?? '';
    if (!job || !/^[A-Za-z]+\.\d{3}\.ndjson$/.test(name)) return fail(res, 404, 'not-found', 'no such file');
    const path = join(job.dir, name);
    const key = `${job.id}/${name}`;
    const attempt = (fileAttempts.get(key) ?? 0) + 1;
    fileAttempts.set(key, attempt);
    if (faults.revokeTokensOnFirstDownload && !revoked) {
      revoked = true;
      tokens.clear();
      return fail(res, 401, 'login', 'token revoked');
    }
    if (attempt === 1 && faults.fileErrorsOnce) return fail(res, 500, 'transient', 'file temporarily unavailable (injected fault)');
    if (attempt === 1 && faults.breakFilesAfterBytes !== undefined) {
      const size = (await stat(path)).size;
      const cut = Math.min(faults.breakFilesAfterBytes, Math.max(0, size - 1));
      res.status(200).setHeader('content-type', 'application/fhir+ndjson').setHeader('content-length', String(size));
      res.flushHeaders();
      const partial = createReadStream(path, { start: 0, end: Math.max(0, cut - 1) });
      partial.on('end', () => res.socket?.destroy());
      partial.pipe(res, { end: false });
      return;
    }
    res.sendFile(path, { headers: { 'content-type': 'application/fhir+ndjson' }, acceptRanges: true, dotfiles: 'deny' });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    tokenUrl: `${baseUrl}/auth/token`,
    stats,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(
        [...jobs.values()].map(async (j) => {
          j.cancelled = true;
          await j.materialising;
          await rm(j.dir, { recursive: true, force: true });
        }),
      );
    },
  };
}
