// Where "what was actually ordered afterwards" comes from for the shadow report: the order-sign draft sets the
// service saw, a FHIR Bulk Data export folder, or the patients' MedicationRequests on a FHIR server.
import type { Bundle, FhirResource } from 'fhir/r4';
import { readBulk } from '../fhir/bulk-reader.ts';
import { historyFromResources } from '../fhir/bundle-reader.ts';
import type { LoadedMapping } from '../mapping/types.ts';
import type { ObservedOrders } from './log.ts';
import type { LaterOrder } from './report.ts';

export function fromObservedOrders(observed: readonly ObservedOrders[]): LaterOrder[] {
  return observed.map((o) => ({ patientId: o.patientId, at: o.at, labels: o.labels, source: 'order-sign drafts', hookInstance: o.hookInstance }));
}

/** Medication orders of histories: each order at its authoredOn, else at its encounter's start. */
function ordersOfHistory(history: { patientId: string; encounters: Array<{ start: string; medications: Array<{ labels: string[]; authoredOn?: string }> }> }, source: string): LaterOrder[] {
  const out: LaterOrder[] = [];
  for (const e of history.encounters) {
    for (const m of e.medications) if (m.labels.length > 0) out.push({ patientId: history.patientId, at: m.authoredOn ?? e.start, labels: m.labels, source });
  }
  return out;
}

/** MedicationRequests of a bulk export folder (only the given patients are kept). */
export async function fromBulkExport(dir: string, mapping: LoadedMapping, patients: ReadonlySet<string>): Promise<LaterOrder[]> {
  const read = await readBulk(dir, { mapping });
  const out: LaterOrder[] = [];
  for (const history of read.histories()) if (patients.has(history.patientId)) out.push(...ordersOfHistory(history, 'bulk export'));
  return out;
}

export class ShadowSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShadowSourceError';
  }
}

/** Each patient's MedicationRequests (and Encounters, to place them) from a FHIR server, following `next` links. */
export async function fromFhirServer(
  base: string,
  mapping: LoadedMapping,
  patients: ReadonlySet<string>,
  options: { token?: string; maxPages?: number; fetchImpl?: typeof fetch } = {},
): Promise<LaterOrder[]> {
  const doFetch = options.fetchImpl ?? fetch;
  const headers: Record<string, string> = { accept: 'application/fhir+json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const root = base.replace(/\/+$/, '');
  const origin = new URL(root).origin;
  const search = async (first: string): Promise<FhirResource[]> => {
    const out: FhirResource[] = [];
    let url: string | undefined = first;
    for (let page = 0; url && page < (options.maxPages ?? 20); page++) {
      // The token goes to this server only: a next link elsewhere is not followed.
      if (new URL(url).origin !== origin) throw new ShadowSourceError(`${url}: a next link to another server; not followed`);
      const res = await doFetch(url, { headers, redirect: 'error' });
      if (!res.ok) throw new ShadowSourceError(`${url}: HTTP ${res.status}`);
      const bundle = (await res.json()) as Bundle;
      if (bundle.resourceType !== 'Bundle') throw new ShadowSourceError(`${url}: not a Bundle`);
      for (const e of bundle.entry ?? []) if (e.resource) out.push(e.resource as FhirResource);
      url = bundle.link?.find((l) => l?.relation === 'next')?.url;
    }
    return out;
  };
  const out: LaterOrder[] = [];
  for (const patientId of patients) {
    const id = encodeURIComponent(patientId);
    const resources = [
      ...(await search(`${root}/Encounter?patient=${id}`)),
      ...(await search(`${root}/MedicationRequest?patient=${id}&_include=MedicationRequest:medication`)),
    ];
    const { history } = historyFromResources(resources, mapping, patientId);
    out.push(...ordersOfHistory(history, 'FHIR server'));
  }
  return out;
}
