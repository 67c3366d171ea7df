// Does the served model read the served mapping's codes? A model trained on one mapping and served with another
// answers 200s driven by whatever overlaps: at start (and on every hot swap) that is refused unless the site forces it.
import type { LoadedMapping } from '../mapping/types.ts';
import { mappingFingerprint, mappingNamespaces } from '../mapping/fingerprint.ts';

/** What the check needs of a model manifest (src/model/runtime/manifest.ts). */
export interface ManifestMappingFacts {
  modelVersion: string;
  mapping?: string;
  mappingFingerprint?: string;
  labelSpace?: string;
  vocabularies: { diagnoses: readonly string[]; procedures: readonly string[] };
}

export interface ModelMappingCheck {
  /** Problems that make the pair unfit to serve (empty: consistent). */
  mismatches: string[];
  /** What could not be checked (older manifests). */
  notes: string[];
}

function namespacesOf(tokens: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of tokens) {
    const i = t.indexOf(':');
    if (i <= 0) continue;
    const ns = t.slice(0, i);
    out.set(ns, (out.get(ns) ?? 0) + 1);
  }
  return out;
}

export function checkModelMapping(manifest: ManifestMappingFacts, mapping: LoadedMapping): ModelMappingCheck {
  const mismatches: string[] = [];
  const notes: string[] = [];
  const model = `model ${manifest.modelVersion}`;
  if (manifest.labelSpace !== undefined && manifest.labelSpace !== mapping.labelSpace)
    mismatches.push(`${model} predicts label space '${manifest.labelSpace}', mapping ${mapping.name} gives '${mapping.labelSpace}'`);
  if (manifest.mappingFingerprint !== undefined) {
    const served = mappingFingerprint(mapping.config);
    if (served !== manifest.mappingFingerprint)
      mismatches.push(
        `${model} was trained with mapping '${manifest.mapping ?? '?'}' (${manifest.mappingFingerprint}), the service has mapping '${mapping.name}' (${served}): label space, code systems or normalisation differ`,
      );
  } else {
    notes.push(`${model} records no mapping fingerprint (trained before it was kept); checked by token namespaces only`);
  }
  // Whatever the manifest says: every vocabulary namespace must be one the mapping can produce.
  const ns = mappingNamespaces(mapping.config);
  for (const [kind, tokens, known] of [
    ['diagnosis', manifest.vocabularies.diagnoses, ns.diagnoses],
    ['procedure', manifest.vocabularies.procedures, ns.procedures],
  ] as const) {
    const unknown = [...namespacesOf(tokens)].filter(([n]) => !known.has(n));
    if (unknown.length > 0) {
      const counted = unknown.map(([n, c]) => `${n} (${c} codes)`).join(', ');
      mismatches.push(`${model} knows ${kind} codes in namespaces ${counted} that mapping '${mapping.name}' never produces (it has: ${[...known].join(', ') || 'none'})`);
    }
  }
  return { mismatches, notes };
}

/** Thrown when the pair is refused; the message names both sides. */
export class ModelMappingMismatch extends Error {
  constructor(readonly mismatches: readonly string[]) {
    super(`the model and the mapping do not match: ${mismatches.join('; ')} (retrain with this mapping, serve the mapping the model was trained with, or force it with model.allowMappingMismatch)`);
    this.name = 'ModelMappingMismatch';
  }
}
