// Configured categorical profile fields, evaluated with FHIRPath on Patient or Encounter resources.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { ProfileField } from '../mapping/schema.ts';
import { MappingError } from '../mapping/errors.ts';

export type FieldEvaluator = (resource: object) => string | undefined;

function firstValue(values: unknown): string | undefined {
  const list = Array.isArray(values) ? values : [values];
  for (const value of list) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'string') {
      if (value.trim()) return value.trim();
      continue;
    }
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value === 'object') {
      const v = value as { code?: unknown; coding?: unknown; value?: unknown };
      if (typeof v.code === 'string' && v.code) return v.code;
      if (Array.isArray(v.coding)) {
        const inner = firstValue(v.coding);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

const simplePath = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

/** Plain element walk for dotted paths: the common case, without FHIRPath's cost per resource. */
function walk(resource: object, segments: readonly string[]): unknown[] {
  let current: unknown[] = [resource];
  for (const segment of segments) {
    const next: unknown[] = [];
    for (const item of current) {
      if (item === null || typeof item !== 'object') continue;
      const value = (item as Record<string, unknown>)[segment];
      if (Array.isArray(value)) next.push(...value);
      else if (value !== undefined && value !== null) next.push(value);
    }
    current = next;
    if (current.length === 0) break;
  }
  return current;
}

export function compileField(field: ProfileField, mappingFile: string, index: number): FieldEvaluator {
  let compiled: (resource: object) => unknown;
  try {
    const fn = fhirpath.compile(field.fhirpath, r4);
    compiled = (resource) => fn(resource as never);
  } catch (err) {
    throw new MappingError(mappingFile, `profile.fields[${index}].fhirpath`, `invalid FHIRPath: ${(err as Error).message}`);
  }
  if (simplePath.test(field.fhirpath)) {
    const segments = field.fhirpath.split('.');
    if (segments[0] === field.resource) segments.shift();
    // Literal keys found by the walk are what FHIRPath finds too; choice types (value[x]) need FHIRPath.
    return (resource) => firstValue(walk(resource, segments)) ?? safe(compiled, resource);
  }
  return (resource) => safe(compiled, resource);
}

function safe(fn: (resource: object) => unknown, resource: object): string | undefined {
  try {
    return firstValue(fn(resource));
  } catch {
    // Malformed resource content: the field is simply absent for this resource.
    return undefined;
  }
}

export interface ProfileEvaluators {
  patient: Array<[string, FieldEvaluator]>;
  encounter: Array<[string, FieldEvaluator]>;
}

export function compileProfileFields(fields: readonly ProfileField[], mappingFile: string): ProfileEvaluators {
  const out: ProfileEvaluators = { patient: [], encounter: [] };
  const names = new Set<string>();
  fields.forEach((field, i) => {
    if (names.has(field.name) || field.name === 'sex' || field.name === 'age_band') {
      throw new MappingError(mappingFile, `profile.fields[${i}].name`, `field name '${field.name}' is used twice or reserved`);
    }
    names.add(field.name);
    (field.resource === 'Patient' ? out.patient : out.encounter).push([field.name, compileField(field, mappingFile, i)]);
  });
  return out;
}

export function evaluateFields(evaluators: Array<[string, FieldEvaluator]>, resource: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, evaluate] of evaluators) {
    const value = evaluate(resource);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

const cache = new WeakMap<object, ProfileEvaluators>();

/** Compiled once per loaded mapping (the service reads bundles per request). */
export function profileEvaluatorsFor(mapping: { path: string; config: { profile: { fields: ProfileField[] } } }): ProfileEvaluators {
  let found = cache.get(mapping);
  if (!found) {
    found = compileProfileFields(mapping.config.profile.fields, mapping.path);
    cache.set(mapping, found);
  }
  return found;
}
