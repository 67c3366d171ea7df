// Loads and validates a mapping config (JSON or YAML), its concept maps, label catalog and interaction pairs.
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import type { Coding } from 'fhir/r4';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { CodedEntry } from '../history/types.ts';
import { ConceptMap } from './concept-map.ts';
import { readCsvColumns } from './csv-table.ts';
import { MappingError } from './errors.ts';
import { normaliseCode, transformLabel } from './normalise.ts';
import { LabelEntry, MappingConfig, type KindRules, type SystemRule } from './schema.ts';
import { nearestKey, schemaKeys } from './schema-keys.ts';
import { compileProfileFields } from '../fhir/profile-fields.ts';
import type { LoadedMapping } from './types.ts';
import { RxNormResolver, type IngredientResolution } from '../terminology/rxnorm.ts';
import { loadIngredientAtc, loadRouteRules, loadRxNormCodes, loadSalts } from '../terminology/tables.ts';
import { normaliseName } from '../terminology/names.ts';

export interface LoadOverrides {
  /** Concept-map file paths by source name (`--concept-map name=path`), replacing the mapping's own. */
  conceptMaps?: Record<string, string>;
}

/** The medication lookup with the coding that produced the labels (for display and coverage reports). */
export interface MedicationMatch {
  labels: string[];
  /** The coding that produced the labels; absent when they came from CodeableConcept.text. */
  matched?: Coding;
  /** True when the labels came from CodeableConcept.text. */
  fromText?: boolean;
}

export interface ConceptMapInfo {
  path: string;
  size: number;
  /** Table rows skipped because their source value could not be normalised. */
  skippedRows: number;
  /** Values looked up that are not valid for the map's normalisation (e.g. NDCs with letters). */
  readonly invalidLookups: number;
  readonly invalidExamples: readonly string[];
}

export interface LoadedSiteMapping extends LoadedMapping {
  medicationMatch(codings: readonly Coding[], text?: string): MedicationMatch;
  /** Loaded concept maps by source name, with their resolved paths, sizes and normalisation counts (live). */
  readonly conceptMaps: ReadonlyMap<string, ConceptMapInfo>;
}

const knownKeys = schemaKeys(MappingConfig);

function fieldPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out || '(top level)';
}

export function renderZodIssues(file: string, error: z.ZodError, prefix: ReadonlyArray<string | number> = []): MappingError {
  const problems = error.issues.map((issue) => {
    let detail = issue.message;
    if (issue.code === 'unrecognized_keys') {
      detail = issue.keys
        .map((key) => {
          const near = nearestKey(key, knownKeys);
          return `unknown key '${key}'${near ? ` (did you mean '${near}'?)` : ''}`;
        })
        .join('; ');
    } else if (issue.code === 'invalid_type' && issue.received === 'undefined') {
      detail = `required (${issue.expected})`;
    }
    return { field: fieldPath([...prefix, ...issue.path]), detail };
  });
  const [first, ...others] = problems;
  return new MappingError(file, first?.field, first?.detail ?? 'invalid', others);
}

function lineOfPosition(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return { line, column: position - before.lastIndexOf('\n') };
}

export function parseConfigText(file: string, text: string): unknown {
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    try {
      return parseYaml(text, { prettyErrors: true });
    } catch (err) {
      if (err instanceof YAMLParseError) {
        const pos = err.linePos?.[0];
        throw new MappingError(file, undefined, `invalid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${err.message.split('\n')[0]}`);
      }
      throw err;
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err as Error).message;
    const m = /position (\d+)/.exec(message);
    const where = m ? lineOfPosition(text, Number(m[1])) : undefined;
    throw new MappingError(file, undefined, `invalid JSON${where ? ` at line ${where.line}, column ${where.column}` : ''}: ${message}`);
  }
}

interface KindIndex {
  rules: KindRules;
  bySystem: Map<string, SystemRule>;
}

function indexKind(file: string, kind: 'diagnoses' | 'procedures', rules: KindRules): KindIndex {
  const bySystem = new Map<string, SystemRule>();
  const namespaces = new Map<string, string>();
  rules.systems.forEach((rule, i) => {
    if (bySystem.has(rule.system)) {
      throw new MappingError(file, `${kind}.systems[${i}].system`, `system '${rule.system}' is listed twice`);
    }
    bySystem.set(rule.system, rule);
    const canonical = rule.canonical ?? rule.system;
    const owner = namespaces.get(rule.namespace);
    // Two source systems may share a namespace only when they are the same canonical vocabulary.
    if (owner !== undefined && owner !== canonical) {
      throw new MappingError(
        file,
        `${kind}.systems[${i}].namespace`,
        `namespace '${rule.namespace}' is already used for ${owner}; tokens of different vocabularies would collide`,
      );
    }
    namespaces.set(rule.namespace, canonical);
  });
  return { rules, bySystem };
}

async function loadCatalog(file: string, catalogPath: string): Promise<Record<string, LabelEntry>> {
  let text: string;
  try {
    text = await readFile(catalogPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MappingError(file, 'labels.file', code === 'ENOENT' ? `file not found: ${catalogPath}` : (err as Error).message);
  }
  const data = parseConfigText(catalogPath, text);
  const entries =
    data && typeof data === 'object' && !Array.isArray(data)
      ? Object.fromEntries(Object.entries(data as Record<string, unknown>).filter(([k]) => !k.startsWith('$')))
      : data;
  const parsed = z.record(z.string(), LabelEntry).safeParse(entries);
  if (!parsed.success) throw renderZodIssues(catalogPath, parsed.error);
  return parsed.data;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

export async function loadMapping(path: string, overrides: LoadOverrides = {}): Promise<LoadedSiteMapping> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MappingError(file, undefined, code === 'ENOENT' ? 'mapping file not found' : (err as Error).message);
  }
  const parsed = MappingConfig.safeParse(parseConfigText(file, text));
  if (!parsed.success) throw renderZodIssues(file, parsed.error);
  const config = parsed.data;
  const base = dirname(file);

  const diagnoses = indexKind(file, 'diagnoses', config.diagnoses);
  const procedures = indexKind(file, 'procedures', config.procedures);
  // FHIRPath syntax errors surface at load time, naming the field.
  compileProfileFields(config.profile.fields, file);

  // A misspelt --concept-map name must not silently fall back to the mapping's own file.
  const known = config.medications.sources.flatMap((s) => (s.kind === 'concept-map' ? [s.name] : []));
  const unknownOverrides = Object.keys(overrides.conceptMaps ?? {}).filter((n) => !known.includes(n));
  if (unknownOverrides.length > 0) {
    throw new MappingError(
      file,
      'medications.sources',
      `no concept-map source named ${unknownOverrides.map((n) => `'${n}'`).join(', ')} (known: ${known.join(', ') || 'none'})`,
    );
  }
  const sourceNames = new Set<string>();
  const conceptMaps = new Map<number, ConceptMap>();
  const resolvers = new Map<number, RxNormResolver>();
  for (const [i, source] of config.medications.sources.entries()) {
    const field = `medications.sources[${i}]`;
    if (source.kind === 'rxnorm') {
      const ref = (key: 'ingredientAtc' | 'codes' | 'salts' | 'routes', p: string) => ({ mappingFile: file, field: `${field}.${key}`, path: resolve(base, p) });
      resolvers.set(
        i,
        new RxNormResolver({
          ingredientAtc: await loadIngredientAtc(ref('ingredientAtc', source.ingredientAtc)),
          codes: source.codes ? await loadRxNormCodes(ref('codes', source.codes)) : new Map(),
          salts: source.salts ? await loadSalts(ref('salts', source.salts)) : [],
          routes: source.routes ? await loadRouteRules(ref('routes', source.routes)) : [],
        }),
      );
      continue;
    }
    if (source.kind !== 'concept-map') continue;
    if (source.match !== 'text' && source.systems.length === 0) {
      throw new MappingError(file, `${field}.systems`, `required for match '${source.match}' (the coding systems to look up)`);
    }
    if (sourceNames.has(source.name)) throw new MappingError(file, `${field}.name`, `concept-map name '${source.name}' is used twice`);
    sourceNames.add(source.name);
    const override = overrides.conceptMaps?.[source.name];
    const mapPath = override !== undefined ? resolve(override) : resolve(base, source.file);
    conceptMaps.set(
      i,
      await ConceptMap.load(source, mapPath, file, override !== undefined ? `${field}.file (overridden by --concept-map ${source.name}=...)` : `${field}.file`),
    );
  }
  const catalog: Record<string, LabelEntry> = config.labels.file
    ? { ...(await loadCatalog(file, resolve(base, config.labels.file))), ...config.labels.entries }
    : { ...config.labels.entries };

  const pairs = new Map<string, readonly [string, string]>();
  const addPair = (a: string, b: string) => {
    if (a && b && a !== b) pairs.set(pairKey(a, b), a < b ? [a, b] : [b, a]);
  };
  if (config.interactions.file) {
    const path = resolve(base, config.interactions.file);
    await readCsvColumns({ mappingFile: file, field: 'interactions.file', path }, config.interactions.columns, ([a, b], line) => {
      // A pair with a missing side is a broken knowledge row, not a row to skip quietly.
      const empty = !a ? config.interactions.columns[0] : !b ? config.interactions.columns[1] : undefined;
      if (empty !== undefined) throw new MappingError(file, 'interactions.file', `${path}: line ${line}: field '${empty}': empty`);
      addPair(a!, b!);
    });
  }
  for (const [a, b] of config.interactions.pairs) addPair(a, b);
  const pairList = [...pairs.values()];

  const sources = config.medications.sources;
  const rxLabels = (resolver: RxNormResolver, found: IngredientResolution, transform: Parameters<typeof transformLabel>[1], labels: string[]) => {
    for (const ingredient of found.ingredients) {
      for (const atc of resolver.atcFor(ingredient, found.doseForm)) {
        const label = transformLabel(atc, transform);
        if (label && !labels.includes(label)) labels.push(label);
      }
    }
  };
  function medicationMatch(codings: readonly Coding[], text?: string): MedicationMatch {
    const usableText = typeof text === 'string' && text.trim() ? text : undefined;
    for (const [i, source] of sources.entries()) {
      const labels: string[] = [];
      let matched: Coding | undefined;
      let fromText = false;
      if (source.kind === 'coding') {
        for (const coding of codings) {
          if (coding.system !== source.system || !coding.code) continue;
          const label = transformLabel(coding.code, source.transform);
          if (label && !labels.includes(label)) labels.push(label);
          matched ??= coding;
        }
      } else if (source.kind === 'rxnorm') {
        const resolver = resolvers.get(i)!;
        for (const coding of codings) {
          if (!coding.system || !source.systems.includes(coding.system)) continue;
          const before = labels.length;
          rxLabels(resolver, resolver.resolveCoding(coding), source.transform, labels);
          if (labels.length > before) matched ??= coding;
        }
        if (labels.length === 0 && usableText && source.text) {
          rxLabels(resolver, resolver.resolveText(usableText), source.transform, labels);
          fromText = labels.length > 0;
        }
      } else {
        const map = conceptMaps.get(i)!;
        if (source.match === 'text') {
          const found = usableText ? map.lookup(usableText) : undefined;
          if (found) {
            fromText = true;
            for (const label of found) if (!labels.includes(label)) labels.push(label);
          } else {
            for (const coding of codings) {
              if (source.systems.length > 0 && (!coding.system || !source.systems.includes(coding.system))) continue;
              const hit = typeof coding.display === 'string' ? map.lookup(coding.display) : undefined;
              if (!hit) continue;
              matched ??= coding;
              for (const label of hit) if (!labels.includes(label)) labels.push(label);
            }
          }
        } else {
          for (const coding of codings) {
            if (!coding.system || !source.systems.includes(coding.system)) continue;
            const value = source.match === 'code' ? coding.code : coding.display;
            if (typeof value !== 'string' || !value) continue;
            const found = map.lookup(value);
            if (!found) continue;
            matched ??= coding;
            for (const label of found) if (!labels.includes(label)) labels.push(label);
          }
        }
      }
      if (labels.length > 0) return { labels, ...(matched ? { matched } : {}), ...(fromText ? { fromText } : {}) };
    }
    return { labels: [] };
  }

  const rxSources = sources.flatMap((source, i) => (source.kind === 'rxnorm' ? [{ source, resolver: resolvers.get(i)! }] : []));
  function medicationIngredients(codings: readonly Coding[], text?: string): string[] {
    const out: string[] = [];
    const add = (names: readonly string[]) => {
      for (const n of names) if (n && !out.includes(n)) out.push(n);
    };
    for (const { source, resolver } of rxSources) {
      for (const coding of codings) {
        if (coding.system && source.systems.includes(coding.system)) add(resolver.resolveCoding(coding).ingredients);
      }
    }
    if (out.length === 0 && typeof text === 'string' && text.trim()) {
      for (const { source, resolver } of rxSources) if (source.text) add(resolver.resolveText(text).ingredients);
    }
    return out;
  }
  function ingredientAtc(ingredient: string): string[] {
    const out: string[] = [];
    const name = normaliseName(ingredient);
    for (const { resolver } of rxSources) for (const atc of resolver.atcOf(name)) if (!out.includes(atc)) out.push(atc);
    return out;
  }

  function codedEntry(kind: 'diagnosis' | 'procedure', coding: Coding): CodedEntry | undefined {
    if (!coding.system || !coding.code) return undefined;
    const rule = (kind === 'diagnosis' ? diagnoses : procedures).bySystem.get(coding.system);
    if (!rule) return undefined;
    const code = normaliseCode(coding.code, rule.normalise);
    if (!code) return undefined;
    return {
      token: `${rule.namespace}:${code}`,
      concept: { system: rule.canonical ?? rule.system, code, ...(coding.display ? { display: coding.display } : {}) },
    };
  }

  return {
    name: config.name,
    path: file,
    config,
    labelSpace: config.medications.labelSpace,
    conceptMaps: new Map([...conceptMaps.values()].map((m) => [m.source.name, m])),
    labelEntry: (label) => catalog[label],
    medicationLabels: (codings, text) => medicationMatch(codings, text).labels,
    medicationMatch,
    medicationIngredients,
    ingredientAtc,
    codedEntry,
    interacts: (a, b) => pairs.has(pairKey(a, b)),
    interactionPairs: () => pairList,
  };
}
