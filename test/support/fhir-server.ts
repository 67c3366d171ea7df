// A real FHIR R4 server on loopback for tests: reads and `?patient=` searches over an in-memory store, `_count`
// paging with next links, `_include=MedicationRequest:medication`, a bearer-token check and failure modes.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import type { Bundle, BundleEntry, FhirResource, MedicationRequest, OperationOutcome } from 'fhir/r4';

export type FailureMode = { kind: 'none' } | { kind: 'delay'; ms: number } | { kind: 'status'; status: number };

export interface RecordedRequest {
  method: string;
  path: string;
  /** The Authorization header as received (tests check the token arrives; the service must not log it). */
  authorization?: string;
}

const TYPES = new Set(['Patient', 'Encounter', 'Condition', 'Procedure', 'MedicationRequest', 'Medication']);

function outcome(code: OperationOutcome['issue'][number]['code'], diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

function patientOf(resource: FhirResource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const r = resource as unknown as { subject?: { reference?: string }; patient?: { reference?: string } };
  return (r.subject?.reference ?? r.patient?.reference)?.replace(/^.*Patient\//, '');
}

export class FhirTestServer {
  readonly requests: RecordedRequest[] = [];
  failure: FailureMode = { kind: 'none' };
  /** Only these resource types fail (all when empty). */
  failTypes: string[] = [];
  private readonly store = new Map<string, FhirResource>();
  private server?: Server;
  base = '';

  constructor(readonly token?: string) {}

  add(...resources: FhirResource[]): this {
    for (const r of resources) {
      if (!r.id) throw new Error(`test resource ${r.resourceType} has no id`);
      this.store.set(`${r.resourceType}/${r.id}`, r);
    }
    return this;
  }

  async start(): Promise<this> {
    const app = express();
    app.use(async (req, res, next) => {
      this.requests.push({ method: req.method, path: req.originalUrl, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (this.token && req.headers.authorization !== `Bearer ${this.token}`) {
        res.status(401).type('application/fhir+json').json(outcome('login', 'bearer token required'));
        return;
      }
      const type = req.path.split('/')[2] ?? '';
      const failing = this.failTypes.length === 0 || this.failTypes.includes(type);
      if (failing && this.failure.kind === 'delay') await new Promise((r) => setTimeout(r, (this.failure as { ms: number }).ms));
      if (failing && this.failure.kind === 'status') {
        res.status(this.failure.status).type('application/fhir+json').json(outcome('exception', 'test failure mode'));
        return;
      }
      next();
    });
    app.get('/fhir/:type/:id', (req, res) => {
      const found = TYPES.has(req.params.type) ? this.store.get(`${req.params.type}/${req.params.id}`) : undefined;
      if (!found) {
        res.status(404).type('application/fhir+json').json(outcome('not-found', `${req.params.type}/${req.params.id} not found`));
        return;
      }
      res.type('application/fhir+json').json(found);
    });
    app.get('/fhir/:type', (req, res) => {
      const type = req.params.type;
      if (!TYPES.has(type)) {
        res.status(404).type('application/fhir+json').json(outcome('not-supported', `${type} is not served`));
        return;
      }
      const patient = typeof req.query.patient === 'string' ? req.query.patient.replace(/^Patient\//, '') : undefined;
      const count = Math.max(1, Number.parseInt(String(req.query._count ?? '50'), 10) || 50);
      const page = Math.max(0, Number.parseInt(String(req.query._page ?? '0'), 10) || 0);
      const include = req.query._include === 'MedicationRequest:medication';
      const all = [...this.store.values()].filter((r) => r.resourceType === type && (!patient || patientOf(r) === patient));
      const slice = all.slice(page * count, (page + 1) * count);
      const entry: BundleEntry[] = slice.map((r) => ({ fullUrl: `${this.base}/${type}/${r.id}`, resource: r, search: { mode: 'match' } }));
      if (include) {
        for (const r of slice as MedicationRequest[]) {
          const ref = r.medicationReference?.reference;
          const med = ref && !ref.startsWith('#') ? this.store.get(ref) : undefined;
          if (med && !entry.some((e) => e.resource === med)) entry.push({ fullUrl: `${this.base}/${ref}`, resource: med, search: { mode: 'include' } });
        }
      }
      const self = new URL(req.originalUrl, this.base);
      const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: all.length, link: [{ relation: 'self', url: self.href }], entry };
      if ((page + 1) * count < all.length) {
        const next = new URL(`${this.base}/${type}`);
        for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string' && k !== '_page') next.searchParams.set(k, v);
        next.searchParams.set('_page', String(page + 1));
        bundle.link!.push({ relation: 'next', url: next.href });
      }
      res.type('application/fhir+json').json(bundle);
    });
    await new Promise<void>((resolve) => {
      this.server = app.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server!.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}/fhir`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
