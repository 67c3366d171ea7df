// Vocabularies of the student: one table per kind (defect 4 of the reference code: kinds never share rows).
// Index 0 is padding (or "missing" for profile fields), 1 is unknown; real entries start at 2.
import { z } from 'zod';
import type { DatasetRecord } from '../../dataset/types.ts';

export const PAD = 0;
export const UNKNOWN = 1;
export const FIRST = 2;

export const Vocabularies = z
  .object({
    diagnoses: z.array(z.string()),
    procedures: z.array(z.string()),
    /** Medication labels: the output space, and the medication-history vocabulary (row = label index + 2). */
    labels: z.array(z.string()).min(1),
    /** Profile fields in input order, each with its values. */
    profile: z.array(z.object({ field: z.string(), values: z.array(z.string()) }).strict()).min(1),
    /** Codes seen fewer times than this in training were trained as "unknown"; 1 = unknown row never trained. */
    minCount: z.number().int().min(1),
  })
  .strict();
export type Vocabularies = z.infer<typeof Vocabularies>;

/** Profile fields every dataset record carries (absent values become index 0). */
const BASE_PROFILE_FIELDS = ['sex', 'age_band'];

export interface BuildVocabOptions {
  /** Fixed label vocabulary (e.g. the evaluation's); default: labels seen in the training records. */
  labels?: readonly string[];
  minCount?: number;
}

function countInto(counts: Map<string, number>, tokens: Iterable<string>): void {
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
}

function kept(counts: Map<string, number>, minCount: number): string[] {
  return [...counts].filter(([, n]) => n >= minCount).map(([t]) => t).sort();
}

export function buildVocabularies(records: readonly DatasetRecord[], options: BuildVocabOptions = {}): Vocabularies {
  const minCount = options.minCount ?? 1;
  const diag = new Map<string, number>();
  const proc = new Map<string, number>();
  const labels = new Set<string>(options.labels ?? []);
  const profile = new Map<string, Map<string, number>>();
  for (const f of BASE_PROFILE_FIELDS) profile.set(f, new Map());
  for (const r of records) {
    countInto(diag, r.diagnoses);
    countInto(proc, r.procedures);
    for (const v of r.history) {
      countInto(diag, v.diagnoses);
      countInto(proc, v.procedures);
    }
    if (!options.labels) for (const l of r.labels) labels.add(l);
    for (const [field, value] of Object.entries(r.profile)) {
      let m = profile.get(field);
      if (!m) profile.set(field, (m = new Map()));
      countInto(m, [value]);
    }
  }
  if (labels.size === 0) throw new Error('no medication labels in the training records');
  return {
    diagnoses: kept(diag, minCount),
    procedures: kept(proc, minCount),
    labels: options.labels ? [...options.labels] : [...labels].sort(),
    profile: [...profile.keys()].sort().map((field) => ({ field, values: kept(profile.get(field)!, minCount) })),
    minCount,
  };
}

/** Lookup tables built from serialised vocabularies. */
export class VocabIndex {
  readonly diagnoses: Map<string, number>;
  readonly procedures: Map<string, number>;
  readonly medications: Map<string, number>;
  readonly profile: Array<{ field: string; index: Map<string, number> }>;
  /** Row used for codes outside the vocabulary: the unknown row when it was trained, else padding (dropped). */
  readonly unknownRow: number;

  constructor(readonly vocab: Vocabularies) {
    const table = (xs: readonly string[]) => new Map(xs.map((x, i) => [x, i + FIRST] as const));
    this.diagnoses = table(vocab.diagnoses);
    this.procedures = table(vocab.procedures);
    this.medications = table(vocab.labels);
    this.profile = vocab.profile.map((p) => ({ field: p.field, index: table(p.values) }));
    this.unknownRow = vocab.minCount > 1 ? UNKNOWN : PAD;
  }

  get sizes(): { diagnoses: number; procedures: number; medications: number; profile: number[] } {
    return {
      diagnoses: this.vocab.diagnoses.length + FIRST,
      procedures: this.vocab.procedures.length + FIRST,
      medications: this.vocab.labels.length + FIRST,
      profile: this.vocab.profile.map((p) => p.values.length + FIRST),
    };
  }
}
