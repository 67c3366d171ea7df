// A mapping's fingerprint: what its tokens and labels MEAN (the label space, the code systems behind each token
// namespace, how codes are normalised). A model trained under one fingerprint reads its inputs wrongly under another.
// Medication sources, concept-map rows, catalogs and knowledge tables are not part of it: a site may add a source or
// extend a table (which places more orders in the same label space) without retraining.
import { createHash } from 'node:crypto';
import type { MappingConfig } from './schema.ts';

type Rule = { system: string; canonical?: string; namespace: string; normalise: string };

function rules(list: readonly Rule[]): string[][] {
  return list.map((r) => [r.namespace, r.canonical ?? r.system, r.normalise]).sort((a, b) => a.join('\u0000').localeCompare(b.join('\u0000')));
}

/** The meaning-bearing parts of a mapping, as a stable structure (also shown when two fingerprints differ). */
export function mappingMeaning(config: MappingConfig): unknown {
  return {
    labelSpace: config.medications.labelSpace,
    diagnoses: rules(config.diagnoses.systems),
    procedures: rules(config.procedures.systems),
  };
}

/** `sha256:` + 16 hex digits of the meaning (enough to tell mappings apart; not a security boundary). */
export function mappingFingerprint(config: MappingConfig): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(mappingMeaning(config))).digest('hex').slice(0, 16)}`;
}

/** The token namespaces a mapping can produce, by kind. */
export function mappingNamespaces(config: MappingConfig): { diagnoses: Set<string>; procedures: Set<string> } {
  return { diagnoses: new Set(config.diagnoses.systems.map((s) => s.namespace)), procedures: new Set(config.procedures.systems.map((s) => s.namespace)) };
}
