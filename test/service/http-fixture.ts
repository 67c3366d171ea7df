// Test fixture for the HTTP edge: a real app with real config, store, metrics and logger, serving small
// but real CdsService objects (the product's hook handlers live in src/service/hooks and are tested there).
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Bundle, Encounter, FhirResource, MedicationRequest } from 'fhir/r4';
import type { Express } from 'express';
import { createApp } from '../../src/service/app.ts';
import { createAuthenticator, type Authenticator } from '../../src/service/auth/jwt.ts';
import { ServiceConfigSchema, type ServiceConfig } from '../../src/service/config.ts';
import { ServiceError, type CallContext, type CdsResponse, type CdsService, type HookRequest } from '../../src/service/contracts.ts';
import { FeedbackStore } from '../../src/service/feedback/store.ts';
import { createLogger } from '../../src/service/ops/logger.ts';
import { createMetrics, type ServiceMetrics } from '../../src/service/ops/metrics.ts';
import { Readiness } from '../../src/service/ops/readiness.ts';

export const ACCESS_TOKEN = 'fhir-access-token-SECRET-7f3a9c';

/** Checks the order-select context the way a handler must: selections must point into draftOrders. */
function readContext(request: HookRequest, withSelections: boolean): { patientId: string; selections: string[]; bundle: Bundle } {
  const c = request.context;
  if (typeof c.patientId !== 'string' || c.patientId === '') throw new ServiceError('invalid', 'context.patientId is required', ['context.patientId']);
  if (typeof c.userId !== 'string') throw new ServiceError('invalid', 'context.userId is required', ['context.userId']);
  const bundle = c.draftOrders as Bundle | undefined;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle')
    throw new ServiceError('invalid', 'context.draftOrders must be a Bundle', ['context.draftOrders']);
  const ids = new Set((Array.isArray(bundle.entry) ? bundle.entry : []).map((e) => `${e?.resource?.resourceType}/${e?.resource?.id}`));
  let selections: string[] = [];
  if (withSelections) {
    if (!Array.isArray(c.selections) || c.selections.some((s) => typeof s !== 'string'))
      throw new ServiceError('invalid', 'context.selections must be a list of ids', ['context.selections']);
    selections = c.selections as string[];
    const missing = selections.filter((s) => !ids.has(s));
    if (missing.length > 0) throw new ServiceError('invalid', 'context.selections points at orders not in draftOrders', ['context.selections']);
  }
  return { patientId: c.patientId, selections, bundle };
}

/** Reads the patient from the client's FHIR server when prefetch lacks it, within the call's deadline. */
async function patientName(request: HookRequest, patientId: string, call: CallContext): Promise<string> {
  const prefetched = request.prefetch?.patient;
  if (prefetched && prefetched.resourceType === 'Patient') return prefetched.name?.[0]?.family ?? 'unknown';
  if (!request.fhirServer) throw new ServiceError('precondition-failed', 'patient data missing and no fhirServer given', ['prefetch.patient']);
  let res: Response;
  try {
    res = await fetch(`${request.fhirServer.replace(/\/$/, '')}/Patient/${encodeURIComponent(patientId)}`, {
      headers: request.fhirAuthorization ? { Authorization: `Bearer ${request.fhirAuthorization.access_token}` } : {},
      signal: AbortSignal.any([call.signal, AbortSignal.timeout(Math.max(1, call.deadline - Date.now()))]),
    });
  } catch {
    throw new ServiceError('precondition-failed', 'the FHIR server did not answer in time', ['prefetch.patient']);
  }
  if (!res.ok) throw new ServiceError('precondition-failed', `the FHIR server answered ${res.status}`, ['prefetch.patient']);
  const patient = (await res.json()) as { name?: Array<{ family?: string }> };
  return patient.name?.[0]?.family ?? 'unknown';
}

/** A service that echoes its context into one card with one suggestion (what the edge must carry intact). */
export function echoService(id: string, hook: 'order-select' | 'order-sign'): CdsService {
  return {
    id,
    hook,
    title: `Echo ${hook}`,
    description: `Echoes the ${hook} context into a card`,
    prefetch: { patient: 'Patient/{{context.patientId}}' },
    async handle(request: HookRequest, call: CallContext): Promise<CdsResponse> {
      const { patientId, selections } = readContext(request, hook === 'order-select');
      const family = await patientName(request, patientId, call);
      const proposal: MedicationRequest = {
        resourceType: 'MedicationRequest',
        status: 'draft',
        intent: 'proposal',
        subject: { reference: `Patient/${patientId}` },
        medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code: 'A02BC01', display: 'omeprazole' }] },
      };
      return {
        cards: [
          {
            uuid: randomUUID(),
            summary: `Echo for ${family}: ${selections.length} selected`,
            indicator: 'info',
            source: { label: 'edge test fixture' },
            selectionBehavior: 'at-most-one',
            suggestions: [{ label: 'Add omeprazole', uuid: randomUUID(), actions: [{ type: 'create', description: 'Add omeprazole', resource: proposal }] }],
          },
        ],
      };
    },
  };
}

export interface TestApp {
  app: Express;
  config: ServiceConfig;
  store: FeedbackStore;
  metrics: ServiceMetrics;
  readiness: Readiness;
  auth: Authenticator;
  services: CdsService[];
  /** Every log line the app wrote. */
  logs: string[];
}

export function buildTestApp(
  options: { config?: Record<string, unknown>; services?: CdsService[]; auth?: Authenticator; ready?: boolean; db?: string; store?: FeedbackStore; metrics?: ServiceMetrics } = {},
): TestApp {
  const config = ServiceConfigSchema.parse({ log: { level: 'debug' }, ...(options.config ?? {}) });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger(config.log.level, sink);
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  const readiness = new Readiness(['model']);
  if (options.ready ?? true) readiness.markReady('model');
  const store = options.store ?? new FeedbackStore(options.db ?? ':memory:');
  const auth = options.auth ?? createAuthenticator(config.auth);
  const services = options.services ?? [echoService('echo-select', 'order-select'), echoService('echo-sign', 'order-sign')];
  const app = createApp({ services, config, auth, feedbackStore: store, metrics, logger, readiness });
  return { app, config, store, metrics, readiness, auth, services, logs };
}

export function draftBundle(): Bundle {
  const draft: MedicationRequest = {
    resourceType: 'MedicationRequest',
    id: 'mr1',
    status: 'draft',
    intent: 'order',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361', display: 'amlodipine 5 MG' }] },
  };
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [{ resource: draft }],
  };
}

/** A valid order-select request with full prefetch. */
export function orderSelectRequest(): Record<string, unknown> {
  return {
    hook: 'order-select',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/u1', patientId: 'p1', encounterId: 'e1', selections: ['MedicationRequest/mr1'], draftOrders: draftBundle() },
    prefetch: {
      patient: { resourceType: 'Patient', id: 'p1', name: [{ family: 'Testperson' }], birthDate: '1950-01-01', gender: 'female' },
      encounter: { resourceType: 'Encounter', id: 'e1', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: 'Patient/p1' } },
      encounters: { resourceType: 'Bundle', type: 'searchset', entry: [] },
      conditions: { resourceType: 'Bundle', type: 'searchset', entry: [] },
      procedures: null,
      medications: { resourceType: 'Bundle', type: 'searchset', entry: [] },
    },
  };
}

export function orderSignRequest(): Record<string, unknown> {
  const r = orderSelectRequest();
  const context = { ...(r.context as Record<string, unknown>) };
  delete context.selections;
  return { ...r, hook: 'order-sign', context };
}

/** An order-select call with full prefetch: `current` is the encounter, `draft` the selected draft order (as draft-1). */
export function fullPrefetchOrderSelect(patient: FhirResource, history: readonly FhirResource[], current: Encounter, draft: MedicationRequest): Record<string, unknown> {
  const search = (types: string[]): Bundle => ({ resourceType: 'Bundle', type: 'searchset', entry: history.filter((r) => types.includes(r.resourceType)).map((resource) => ({ resource })) });
  return {
    hook: 'order-select',
    hookInstance: randomUUID(),
    context: {
      userId: 'Practitioner/1',
      patientId: patient.id,
      encounterId: current.id,
      selections: ['MedicationRequest/draft-1'],
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...draft, id: 'draft-1', status: 'draft' } }] },
    },
    prefetch: {
      patient,
      encounter: current,
      encounters: search(['Encounter']),
      conditions: search(['Condition']),
      procedures: search(['Procedure']),
      medications: search(['MedicationRequest', 'Medication']),
    },
  };
}
