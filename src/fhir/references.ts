// FHIR reference strings to resource ids: `Type/id`, absolute URLs, `_history` versions, `urn:uuid:` and `#contained`.

/** Maps bundle fullUrls (`urn:uuid:...` or absolute) to `Type/id`, when the reader knows them. */
export type FullUrlResolver = (reference: string) => string | undefined;

export type ParsedReference =
  | { kind: 'id'; id: string }
  | { kind: 'contained'; id: string }
  | { kind: 'wrong-type'; type: string }
  | { kind: 'unparseable' };

export function parseReference(reference: string, type: string, resolve?: FullUrlResolver): ParsedReference {
  // Fast path for the usual relative `Type/id` (one per bulk line, so it matters).
  if (!resolve && reference.length > type.length + 1 && reference.charCodeAt(type.length) === 47 && reference.startsWith(type)) {
    const id = reference.slice(type.length + 1);
    if (id.indexOf('/') === -1 && id.indexOf('?') === -1) return { kind: 'id', id };
  }
  if (reference.startsWith('#')) return reference.length > 1 ? { kind: 'contained', id: reference.slice(1) } : { kind: 'unparseable' };
  const resolved = resolve?.(reference);
  const value = resolved ?? reference;
  if (value.startsWith('urn:uuid:')) return { kind: 'id', id: value.slice(9) };
  if (value.startsWith('urn:oid:')) return { kind: 'id', id: value.slice(8) };
  const parts = value.split('/');
  const historyAt = parts.lastIndexOf('_history');
  const end = historyAt >= 2 ? historyAt : parts.length;
  const refType = parts[end - 2];
  const id = parts[end - 1];
  if (!refType || !id || refType.includes('?') || id.includes('?')) return { kind: 'unparseable' };
  if (refType !== type) return { kind: 'wrong-type', type: refType };
  return { kind: 'id', id };
}

/** The `reference` string of a Reference element, when there is one. */
export function referenceString(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const ref = (value as { reference?: unknown }).reference;
  return typeof ref === 'string' && ref.length > 0 ? ref : undefined;
}
