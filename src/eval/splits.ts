// Patient-level splits: a patient's encounters always land in the same part, so that no history
// seen in training leaks into validation or test. Deterministic by seed (pure-rand), independent
// of record order.
import { SeededRandom } from './random.ts';

export interface SplitFractions {
  train: number;
  validation: number;
  test: number;
}

export interface Split<R> {
  train: R[];
  validation: R[];
  test: R[];
}

export interface Fold<R> {
  fold: number;
  train: R[];
  test: R[];
}

/** Patient ids sorted (so record order does not matter), then shuffled by seed. */
function shuffledPatients(records: ReadonlyArray<{ patientId: string }>, seed: number): string[] {
  const ids = [...new Set(records.map((r) => r.patientId))].sort();
  return new SeededRandom(seed).shuffle(ids);
}

function validateFractions(f: SplitFractions): void {
  for (const k of ['train', 'validation', 'test'] as const) {
    const v = f[k];
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`split fraction ${k} must be a non-negative number, got ${v}`);
  }
  if (f.train <= 0) throw new RangeError('split fraction train must be positive');
  if (f.test <= 0) throw new RangeError('split fraction test must be positive');
}

/**
 * Splits records by patient in the given proportions (normalised to sum 1). Patient counts are
 * rounded for validation and test; train takes the rest. Every part with a positive fraction gets
 * at least one patient when there are enough patients.
 */
export function splitByPatient<R extends { patientId: string }>(
  records: readonly R[],
  fractions: SplitFractions,
  seed: number,
): Split<R> {
  validateFractions(fractions);
  const patients = shuffledPatients(records, seed);
  const total = fractions.train + fractions.validation + fractions.test;
  const p = patients.length;
  const wanted = (frac: number) => (frac > 0 ? Math.max(1, Math.round((p * frac) / total)) : 0);
  let nTest = wanted(fractions.test);
  let nValidation = wanted(fractions.validation);
  if (nTest + nValidation >= p) {
    if (p < 2 + (fractions.validation > 0 ? 1 : 0)) {
      throw new RangeError(`cannot split ${p} patient(s) into train/validation/test`);
    }
    nTest = Math.max(1, Math.min(nTest, p - 1 - (fractions.validation > 0 ? 1 : 0)));
    nValidation = Math.min(nValidation, p - 1 - nTest);
  }
  const part = new Map<string, keyof Split<R>>();
  patients.forEach((id, i) => part.set(id, i < nTest ? 'test' : i < nTest + nValidation ? 'validation' : 'train'));
  const out: Split<R> = { train: [], validation: [], test: [] };
  for (const r of records) out[part.get(r.patientId) as keyof Split<R>].push(r);
  return out;
}

/**
 * k folds by patient: every patient is in exactly one fold's test part, and in the train part of
 * all other folds. Fold sizes differ by at most one patient.
 */
export function kFoldByPatient<R extends { patientId: string }>(records: readonly R[], k: number, seed: number): Fold<R>[] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`k-fold needs an integer k >= 2, got ${k}`);
  const patients = shuffledPatients(records, seed);
  if (patients.length < k) throw new RangeError(`cannot make ${k} folds from ${patients.length} patient(s)`);
  const foldOf = new Map<string, number>();
  patients.forEach((id, i) => foldOf.set(id, i % k));
  const folds: Fold<R>[] = Array.from({ length: k }, (_, fold) => ({ fold, train: [], test: [] }));
  for (const r of records) {
    const f = foldOf.get(r.patientId) as number;
    for (const fold of folds) (fold.fold === f ? fold.test : fold.train).push(r);
  }
  return folds;
}
