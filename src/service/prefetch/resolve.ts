// Resolves every needed prefetch key: from what the client sent, else from its FHIR server, with a typed outcome per key.
import type { Bundle, FhirResource, Medication, MedicationRequest } from 'fhir/r4';
import type { HookRequest } from '../contracts.ts';
import type { FallbackOutcome, HookMetrics, PrefetchSource } from '../hooks/ports.ts';
import { classifyPrefetch } from './classify.ts';
import { FallbackError, FhirFallback } from './fhir-fallback.ts';
import type { KeySpec, PrefetchKey } from './keys.ts';

export type KeyFailure = FallbackOutcome | 'missing' | 'partial';

export interface KeyResult {
  key: PrefetchKey;
  required: boolean;
  source: Exclude<PrefetchSource, 'not-needed'>;
  resources: FhirResource[];
  /** Why the key failed, or what was dropped/degraded (for the card detail). Never holds tokens. */
  note?: string;
  failure?: KeyFailure;
}

export interface ResolveOptions {
  /** Absolute deadline (ms since epoch) for FHIR server requests. */
  deadline: number;
  signal?: AbortSignal;
  metrics?: HookMetrics;
  maxPages?: number;
  pageSize?: number;
  /** Upper bound on Medication reads for references that neither prefetch nor _include resolved. */
  maxMedicationReads?: number;
  /** Whether the named fhirServer may receive the client's token; a refused one is treated as not given. */
  serverAllowed?: (url: string) => boolean;
}

export interface ResolvedPrefetch {
  results: Partial<Record<PrefetchKey, KeyResult>>;
  /** Every patient resource found, deduplicated by type and id (Medications included). */
  resources: FhirResource[];
  /** Human-readable notes about degraded optional data. */
  notes: string[];
}

const SUBJECT_FIELDS = ['subject', 'patient'] as const;

/** Whether a searched resource is about the patient; resources from another patient are dropped, never used. */
function belongsTo(resource: FhirResource, patientId: string): boolean {
  if (resource.resourceType === 'Patient') return resource.id === patientId;
  if (resource.resourceType === 'Medication') return true;
  const record = resource as unknown as Record<string, unknown>;
  for (const field of SUBJECT_FIELDS) {
    const ref = (record[field] as { reference?: unknown } | undefined)?.reference;
    if (typeof ref === 'string') return ref === `Patient/${patientId}` || ref.endsWith(`/Patient/${patientId}`);
  }
  return true;
}

function describeFailure(err: unknown): { failure: KeyFailure; note: string } {
  if (err instanceof FallbackError) return { failure: err.outcome, note: err.message };
  return { failure: 'network-error', note: 'the FHIR server request failed' };
}

export async function resolvePrefetch(request: HookRequest, patientId: string, specs: KeySpec[], options: ResolveOptions): Promise<ResolvedPrefetch> {
  const refused = request.fhirServer !== undefined && options.serverAllowed !== undefined && !options.serverAllowed(request.fhirServer);
  const noServer = refused ? 'the fhirServer given is not on this service\'s allow-list (fhir.allowedServers)' : 'no fhirServer was given';
  const fallback = request.fhirServer && !refused
    ? new FhirFallback({
        baseUrl: request.fhirServer,
        accessToken: request.fhirAuthorization?.access_token,
        deadline: options.deadline,
        signal: options.signal,
        metrics: options.metrics,
        maxPages: options.maxPages,
        pageSize: options.pageSize,
      })
    : undefined;
  try {
    const settled = await Promise.all(specs.map((spec) => resolveKey(request, spec, patientId, fallback, noServer)));
    const results: Partial<Record<PrefetchKey, KeyResult>> = {};
    const notes: string[] = [];
    for (const result of settled) {
      results[result.key] = result;
      options.metrics?.prefetchKey(result.key, result.source);
      if (result.note && !result.required) notes.push(`${result.key}: ${result.note}`);
    }
    const resources = dedupe(settled.flatMap((r) => (r.source === 'failed' ? [] : r.resources)));
    notes.push(...(await resolveMedicationReferences(resources, fallback, options.maxMedicationReads ?? 20)));
    return { results, resources, notes };
  } finally {
    fallback?.close();
  }
}

async function resolveKey(request: HookRequest, spec: KeySpec, patientId: string, fallback: FhirFallback | undefined, noServer: string): Promise<KeyResult> {
  const base = { key: spec.key, required: spec.required };
  const value = classifyPrefetch(request.prefetch as Record<string, unknown> | undefined, spec.key);
  let reason: string;
  switch (value.state) {
    case 'resource':
    case 'bundle': {
      const found = value.state === 'resource' ? [value.resource] : value.resources;
      const own = found.filter((r) => belongsTo(r, patientId));
      const dropped = found.length - own.length;
      const droppedNote = dropped > 0 ? `${dropped} resource(s) of another patient ignored` : undefined;
      if (spec.query.kind === 'read') {
        const id = spec.query.id;
        const hit = own.find((r) => r.resourceType === spec.resourceType && r.id === id);
        if (hit) return { ...base, source: 'prefetch', resources: [hit], ...(droppedNote ? { note: droppedNote } : {}) };
        reason = `prefetch.${spec.key} does not hold ${spec.resourceType}/${id}`;
        break;
      }
      const typed = own.filter((r) => r.resourceType === spec.resourceType || r.resourceType === 'Medication');
      if (value.state === 'bundle' && value.next) {
        if (!fallback) {
          return { ...base, source: 'failed', resources: typed, failure: 'partial', note: `prefetch.${spec.key} is paged and ${noServer} to read the rest` };
        }
        try {
          const rest = await fallback.follow(spec.resourceType, { resourceType: 'Bundle', type: 'searchset', entry: [], link: [{ relation: 'next', url: value.next }] } as Bundle, 1);
          const more = rest.resources.filter((r) => belongsTo(r, patientId));
          const all = [...typed, ...more];
          if (rest.truncated) return { ...base, source: 'failed', resources: all, failure: 'partial', note: `prefetch.${spec.key}: more pages than the page bound` };
          return { ...base, source: 'fetched', resources: all, ...(droppedNote ? { note: droppedNote } : {}) };
        } catch (err) {
          const { note } = describeFailure(err);
          return { ...base, source: 'failed', resources: typed, failure: err instanceof FallbackError && err.outcome === 'timeout' ? 'timeout' : 'partial', note: `prefetch.${spec.key} next pages: ${note}` };
        }
      }
      return { ...base, source: 'prefetch', resources: typed, ...(droppedNote ? { note: droppedNote } : {}) };
    }
    case 'null':
      // CDS Hooks: null means the client has no data. Without a server to confirm, a search is simply empty.
      if (!fallback && spec.query.kind === 'search') return { ...base, source: 'prefetch', resources: [] };
      reason = `prefetch.${spec.key} is null`;
      break;
    case 'outcome':
      reason = `prefetch.${spec.key} is an OperationOutcome (${value.reason})`;
      break;
    case 'invalid':
      reason = value.reason;
      break;
    case 'absent':
      reason = `prefetch.${spec.key} was not sent`;
      break;
  }
  if (!fallback) return { ...base, source: 'failed', resources: [], failure: 'missing', note: `${reason} and ${noServer}` };
  try {
    if (spec.query.kind === 'read') {
      const resource = await fallback.read(spec.resourceType, spec.query.id);
      if (!belongsTo(resource, patientId)) {
        return { ...base, source: 'failed', resources: [], failure: 'missing', note: `${spec.resourceType}/${spec.query.id} belongs to another patient` };
      }
      return { ...base, source: 'fetched', resources: [resource] };
    }
    const found = await fallback.search(spec.resourceType, spec.query.params);
    const own = found.resources.filter((r) => belongsTo(r, patientId));
    if (found.truncated) return { ...base, source: 'failed', resources: own, failure: 'partial', note: `${spec.resourceType} search: more pages than the page bound` };
    return { ...base, source: 'fetched', resources: own };
  } catch (err) {
    const { failure, note } = describeFailure(err);
    return { ...base, source: 'failed', resources: [], failure, note: `${reason}; fallback: ${note}` };
  }
}

function dedupe(resources: FhirResource[]): FhirResource[] {
  const seen = new Set<string>();
  const out: FhirResource[] = [];
  for (const r of resources) {
    const key = r.id ? `${r.resourceType}/${r.id}` : undefined;
    if (key) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(r);
  }
  return out;
}

/** The Medication id a reference string points at; undefined for other targets. */
function medicationId(ref: string): string | undefined {
  return ref.match(/(?:^|\/)Medication\/([^/]+)$/)?.[1];
}

/**
 * Reads Medications that MedicationRequests reference but nobody sent; optional: a miss only costs those labels.
 * A medicationReference that is not a Reference with a string `reference` (malformed JSON from a client or a
 * server) is counted in a note and skipped.
 */
async function resolveMedicationReferences(resources: FhirResource[], fallback: FhirFallback | undefined, bound: number): Promise<string[]> {
  const have = new Set(resources.filter((r): r is Medication => r.resourceType === 'Medication').map((m) => m.id));
  const wanted = new Set<string>();
  let malformed = 0;
  for (const r of resources) {
    if (r.resourceType !== 'MedicationRequest') continue;
    const reference: unknown = (r as MedicationRequest).medicationReference;
    if (reference === undefined) continue;
    const ref: unknown = reference !== null && typeof reference === 'object' && !Array.isArray(reference) ? (reference as { reference?: unknown }).reference : null;
    // A Reference by identifier or display only: nothing to read, nothing wrong.
    if (ref === undefined) continue;
    if (typeof ref !== 'string') {
      malformed += 1;
      continue;
    }
    const id = medicationId(ref);
    if (id && !have.has(id)) wanted.add(id);
  }
  const notes = malformed > 0 ? [`${malformed} MedicationRequest(s) with a malformed medicationReference (not a Reference with a string reference); their orders have no label`] : [];
  if (wanted.size === 0) return notes;
  if (!fallback) return [...notes, `${wanted.size} referenced Medication(s) not sent; their orders have no label`];
  const ids = [...wanted].slice(0, bound);
  const read = await Promise.allSettled(ids.map((id) => fallback.read('Medication', id)));
  let missing = wanted.size - ids.length;
  for (const r of read) {
    if (r.status === 'fulfilled') resources.push(r.value);
    else missing += 1;
  }
  if (missing > 0) notes.push(`${missing} referenced Medication(s) could not be read; their orders have no label`);
  return notes;
}
