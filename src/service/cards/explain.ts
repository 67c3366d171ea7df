// Why a label scored high: occlusion. Each input of the record is removed in turn and the record re-scored;
// every variant goes to the model in ONE batched predict call, and only once a suggestion is to be shown.
import type { DatasetRecord } from '../../dataset/types.ts';
import type { CodeSubstitution, MedicationModel, RecordScores } from '../hooks/ports.ts';
import { recordKey, type ScoreCache } from '../score-cache.ts';

export type InputKind = 'diagnosis' | 'procedure' | 'history-diagnosis' | 'history-procedure' | 'history-medication' | 'profile';

export interface ModelInput {
  kind: InputKind;
  /** A token, a medication label, or a profile field name. */
  key: string;
  /** The profile value, for profile inputs. */
  value?: string;
}

export interface Contribution {
  input: ModelInput;
  /** How much the probability drops without this input (positive = the input raised it). */
  delta: number;
}

export interface ScoredRecord {
  record: DatasetRecord;
  base: Float32Array;
  inputs: ModelInput[];
  /** Scores of the record without `inputs[i]`. */
  occluded: readonly Float32Array[];
  /** The record's score-cache key, when a cache is used. */
  key?: string;
  /** Unseen codes of the record the model read as known ones (the model's code map). */
  substitutions: readonly CodeSubstitution[];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Inputs worth occluding, current encounter first (it matters most and must never be cut by the bound). */
export function occlusionInputs(record: DatasetRecord, bound: number): ModelInput[] {
  const inputs: ModelInput[] = [
    ...unique(record.diagnoses).map((key): ModelInput => ({ kind: 'diagnosis', key })),
    ...unique(record.procedures).map((key): ModelInput => ({ kind: 'procedure', key })),
    ...unique(record.history.flatMap((v) => v.medications)).map((key): ModelInput => ({ kind: 'history-medication', key })),
    ...unique(record.history.flatMap((v) => v.diagnoses)).map((key): ModelInput => ({ kind: 'history-diagnosis', key })),
    ...unique(record.history.flatMap((v) => v.procedures)).map((key): ModelInput => ({ kind: 'history-procedure', key })),
    ...Object.entries(record.profile).map(([key, value]): ModelInput => ({ kind: 'profile', key, value })),
  ];
  return inputs.slice(0, Math.max(0, bound));
}

export function withoutInput(record: DatasetRecord, input: ModelInput): DatasetRecord {
  switch (input.kind) {
    case 'diagnosis':
      return { ...record, diagnoses: record.diagnoses.filter((t) => t !== input.key) };
    case 'procedure':
      return { ...record, procedures: record.procedures.filter((t) => t !== input.key) };
    case 'history-diagnosis':
      return { ...record, history: record.history.map((v) => ({ ...v, diagnoses: v.diagnoses.filter((t) => t !== input.key) })) };
    case 'history-procedure':
      return { ...record, history: record.history.map((v) => ({ ...v, procedures: v.procedures.filter((t) => t !== input.key) })) };
    case 'history-medication':
      return { ...record, history: record.history.map((v) => ({ ...v, medications: v.medications.filter((t) => t !== input.key) })) };
    case 'profile': {
      const profile = { ...record.profile };
      delete profile[input.key];
      return { ...record, profile };
    }
  }
}

function checkScores(model: MedicationModel, scores: readonly Float32Array[], expected: number): void {
  if (scores.length !== expected) throw new Error(`the model answered ${scores.length} score vectors for ${expected} records`);
  for (const s of scores) {
    if (s.length !== model.labels.length) throw new Error(`the model answered ${s.length} scores for ${model.labels.length} labels`);
  }
}

/** The record's own scores, without explanation (no inputs occluded yet); from the cache when it has them. */
export async function scoreRecord(model: MedicationModel, record: DatasetRecord, cache?: ScoreCache, signal?: AbortSignal): Promise<ScoredRecord> {
  const key = cache ? recordKey(record) : undefined;
  // Cached with its substitutions: a hit must say what the first call said.
  const known = key !== undefined ? cache!.get<RecordScores>(key) : undefined;
  if (known) return { record, base: known.probabilities, inputs: [], occluded: [], key: key!, substitutions: known.substitutions };
  let scores: RecordScores;
  if (model.scoreRecord) {
    scores = await model.scoreRecord(record, signal);
    checkScores(model, [scores.probabilities], 1);
  } else {
    const out = await model.predict([record], signal);
    checkScores(model, out, 1);
    scores = { probabilities: out[0]!, substitutions: [] };
  }
  if (key !== undefined) cache!.set(key, scores);
  return { record, base: scores.probabilities, inputs: [], occluded: [], substitutions: scores.substitutions, ...(key !== undefined ? { key } : {}) };
}

/** Adds the occlusion scores to a scored record: every variant in ONE batched predict call (or from the cache). */
export async function withOcclusion(model: MedicationModel, scored: ScoredRecord, bound = 64, cache?: ScoreCache, signal?: AbortSignal): Promise<ScoredRecord> {
  const inputs = occlusionInputs(scored.record, bound);
  if (inputs.length === 0) return { ...scored, inputs, occluded: [] };
  // The variants follow from the record and the bound: the record's key and the bound name them all.
  const key = cache && scored.key !== undefined ? `${scored.key}#occlusion:${bound}` : undefined;
  const known = key !== undefined ? cache!.get<readonly Float32Array[]>(key) : undefined;
  if (known && known.length === inputs.length) return { ...scored, inputs, occluded: known };
  const occluded = await model.predict(
    inputs.map((input) => withoutInput(scored.record, input)),
    signal,
  );
  checkScores(model, occluded, inputs.length);
  if (key !== undefined) cache!.set(key, occluded);
  return { ...scored, inputs, occluded };
}

/** Inputs that raised label `index` the most, strongest first. */
export function topContributions(scored: ScoredRecord, index: number, n: number, kinds?: readonly InputKind[]): Contribution[] {
  const p = scored.base[index] ?? 0;
  const out: Contribution[] = [];
  scored.inputs.forEach((input, i) => {
    if (kinds && !kinds.includes(input.kind)) return;
    const delta = p - (scored.occluded[i]?.[index] ?? p);
    if (delta > 1e-6) out.push({ input, delta });
  });
  out.sort((a, b) => b.delta - a.delta);
  return out.slice(0, n);
}
