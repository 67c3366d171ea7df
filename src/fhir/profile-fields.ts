// Configured categorical profile fields, evaluated with FHIRPath on Patient or Encounter resources.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { ProfileField } from '../mapping/schema.ts';
import { MappingError } from '../mapping/errors.ts';

export type FieldEvaluator = (resource: object) => string | undefined;

export function firstValue(values: unknown): string | undefined {
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

type Step = { key: string } | { whereKey: string; equals: string };

/**
 * The FHIRPath subset site mappings use for profile fields: member paths and `where(x = 'literal')` filters,
 * e.g. `extension.where(url = '...').extension.where(url = 'text').value`. Compiled to a plain walk, because
 * FHIRPath's interpreter costs ~80 us per evaluation and bulk reads evaluate it for every Patient/Encounter.
 * Returns undefined for anything else (those expressions go to the fhirpath package).
 */
function compileSubset(expression: string, resourceType: string): Step[] | undefined {
  const steps: Step[] = [];
  const token = /\s*(?:([A-Za-z][A-Za-z0-9]*)|where\(\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*'((?:[^'\\]|\\.)*)'\s*\))\s*(\.|$)/y;
  let at = 0;
  while (at < expression.length) {
    token.lastIndex = at;
    const m = token.exec(expression);
    if (!m) return undefined;
    if (m[1] !== undefined) {
      if (m[1] === 'where') return undefined;
      steps.push({ key: m[1] });
    } else steps.push({ whereKey: m[2]!, equals: m[3]!.replace(/\\(.)/g, '$1') });
    at = token.lastIndex;
    if (m[4] === '') break;
  }
  if (at < expression.length || steps.length === 0) return undefined;
  const first = steps[0]!;
  if ('key' in first && first.key === resourceType) steps.shift();
  return steps;
}

function member(item: Record<string, unknown>, key: string): unknown {
  const value = item[key];
  if (value !== undefined || key !== 'value') return value;
  // value[x]: the JSON key carries the type (valueString, valueCoding, ...).
  for (const k in item) if (k.length > 5 && k.startsWith('value') && k.charCodeAt(5) >= 65 && k.charCodeAt(5) <= 90) return item[k];
  return undefined;
}

function walk(resource: object, steps: readonly Step[]): unknown[] {
  let current: unknown[] = [resource];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const item of current) {
      if (item === null || typeof item !== 'object') continue;
      if ('key' in step) {
        const value = member(item as Record<string, unknown>, step.key);
        if (Array.isArray(value)) next.push(...value);
        else if (value !== undefined && value !== null) next.push(value);
      } else if ((item as Record<string, unknown>)[step.whereKey] === step.equals) next.push(item);
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
  const steps = compileSubset(field.fhirpath, field.resource);
  if (steps) {
    // Same result as FHIRPath on this subset (test/fhir/profile-fields.test.ts checks it against the package).
    return (resource) => firstValue(walk(resource, steps));
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
