// What a client put under a prefetch key: absent, null, an error, a (possibly paged) search Bundle, or a resource.
import type { Bundle, FhirResource, OperationOutcome } from 'fhir/r4';

export type PrefetchValue =
  | { state: 'absent' }
  | { state: 'null' }
  | { state: 'outcome'; reason: string }
  | { state: 'bundle'; resources: FhirResource[]; next?: string }
  | { state: 'resource'; resource: FhirResource }
  | { state: 'invalid'; reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function outcomeText(outcome: OperationOutcome): string {
  const texts = (outcome.issue ?? [])
    .map((i) => i.diagnostics ?? i.details?.text ?? i.code)
    .filter((t): t is string => typeof t === 'string' && t.length > 0);
  return texts.length > 0 ? texts.join('; ').slice(0, 200) : 'OperationOutcome without details';
}

/** The next-page URL of a search Bundle, if any. */
export function nextLink(bundle: Bundle): string | undefined {
  return bundle.link?.find((l) => l.relation === 'next' && typeof l.url === 'string' && l.url.length > 0)?.url;
}

/** Resources of a Bundle, skipping entries without a resource and search-mode `outcome` entries (warnings, not data). */
export function bundleResources(bundle: Bundle): FhirResource[] {
  const out: FhirResource[] = [];
  for (const entry of bundle.entry ?? []) {
    const resource = entry?.resource;
    if (!isRecord(resource) || typeof resource.resourceType !== 'string') continue;
    if (entry.search?.mode === 'outcome' || resource.resourceType === 'OperationOutcome') continue;
    out.push(resource as FhirResource);
  }
  return out;
}

export function classifyPrefetch(prefetch: Record<string, unknown> | undefined, key: string): PrefetchValue {
  if (!prefetch || !Object.prototype.hasOwnProperty.call(prefetch, key)) return { state: 'absent' };
  const value = prefetch[key];
  if (value === null) return { state: 'null' };
  if (value === undefined) return { state: 'absent' };
  if (!isRecord(value) || typeof value.resourceType !== 'string') {
    return { state: 'invalid', reason: `prefetch.${key} is not a FHIR resource` };
  }
  const resource = value as unknown as FhirResource;
  if (resource.resourceType === 'OperationOutcome') return { state: 'outcome', reason: outcomeText(resource) };
  if (resource.resourceType === 'Bundle') {
    if (value.entry !== undefined && !Array.isArray(value.entry)) {
      return { state: 'invalid', reason: `prefetch.${key}.entry is not an array` };
    }
    const next = nextLink(resource);
    return next ? { state: 'bundle', resources: bundleResources(resource), next } : { state: 'bundle', resources: bundleResources(resource) };
  }
  return { state: 'resource', resource };
}
