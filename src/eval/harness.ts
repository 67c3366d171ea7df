// The evaluation harness: patient-level splits (holdout or k-fold), every method fitted and scored
// on the same parts, per-sample metrics, 80% robustness rounds, and a typed report.
import type { Dataset, DatasetRecord } from '../dataset/types.ts';
import type { FitProgress, FitReport, MethodFactory } from './method.ts';
import { averagePrecision, f1, InteractionMatrix, jaccard, predictedSet, type Interacts } from './metrics.ts';
import { SeededRandom } from './random.ts';
import { kFoldByPatient, splitByPatient } from './splits.ts';
import { labelFrequencies } from './baselines/label-frequency.ts';

/** `last`: one sample per patient, the last encounter (the paper's protocol). `all`: every encounter is a sample. */
export type Protocol = 'last' | 'all';

export type SplitSpec =
  | { kind: 'k-fold'; folds: number; /** share of each fold's training patients held out for validation */ validationFraction: number }
  | { kind: 'holdout'; train: number; validation: number; test: number };

export const METRICS = ['jaccard', 'f1', 'prAuc', 'ddiRate', 'med'] as const;
export type MetricName = (typeof METRICS)[number];
export const GROUPS = ['overall', 'single', 'multi'] as const;
/** `single`: the target encounter has no earlier encounter (empty history); `multi`: it has at least one. */
export type Group = (typeof GROUPS)[number];

/** Mean and population standard deviation (ddof 0, as numpy's default in the reference code) over n values. */
export interface Stat {
  mean: number;
  std: number;
  n: number;
}
/** null: not defined here (no sample in the group, or no interaction pairs were given for DDI). */
export type MetricStats = Record<MetricName, Stat | null>;
export type MetricValues = Record<MetricName, number | null>;

export interface MethodInput {
  name: string;
  create: MethodFactory;
}

export type EvaluationProgress =
  | { type: 'start'; methods: string[]; folds: number; samples: number; labels: number }
  | { type: 'fold'; fold: number; folds: number; train: number; validation: number; test: number }
  | { type: 'fit-start'; method: string; fold: number }
  | { type: 'fit'; method: string; fold: number; event: FitProgress }
  | { type: 'method-done'; method: string; fold: number; fitSeconds: number; predictSeconds: number; prAuc: number | null }
  | { type: 'done'; seconds: number };

export interface EvaluateOptions {
  dataset: Dataset;
  methods: MethodInput[];
  split: SplitSpec;
  /** Robustness rounds per test part (default 10). */
  rounds?: number;
  /** Share of the test part drawn without replacement in each round (default 0.8). */
  roundFraction?: number;
  seed?: number;
  protocol?: Protocol;
  /** Interacting label pairs (the mapping's); without it DDI rates are null. */
  interacts?: Interacts;
  onProgress?: (event: EvaluationProgress) => void;
}

export interface FoldResult {
  fold: number;
  trainSamples: number;
  validationSamples: number;
  testSamples: number;
  /** Metrics over the whole test part. */
  full: Record<Group, MetricValues>;
  /** Mean and std over this part's rounds. */
  rounds: Record<Group, MetricStats>;
  fit: FitReport;
  fitSeconds: number;
  predictSeconds: number;
}

export interface LabelResult {
  label: string;
  name?: string;
  /** Share of training samples carrying the label (mean over folds). */
  trainFrequency: number;
  /** Test samples carrying the label (over all folds). */
  testPositives: number;
  /** Average precision of the label's score column over all test samples; null without a positive. */
  prAuc: number | null;
}

export interface MethodResult {
  name: string;
  threshold: number;
  /** The headline figures: across folds (k-fold) or across rounds (holdout), see `EvaluationReport.summaryAcross`. */
  summary: Record<Group, MetricStats>;
  /** Across every round of every test part. */
  rounds: Record<Group, MetricStats>;
  folds: FoldResult[];
  perLabel: LabelResult[];
  seconds: { fit: number; predict: number; predictPerSampleMs: number };
}

/** Paired differences between two methods on the overall group, per fold (k-fold) or per round (holdout). */
export interface Comparison {
  metric: MetricName;
  better: string;
  other: string;
  /** Mean of (better − other) and its population std over the pairs. */
  difference: Stat;
  /** Pairs where `better` was ahead. */
  wins: number;
  /** Ahead in every pair and by more than the spread of the differences. */
  separated: boolean;
}

export interface EvaluationReport {
  format: 'leader-evaluation';
  version: 1;
  createdAt: string;
  dataset: {
    mapping: string;
    labelSpace: string;
    fingerprint: string;
    patients: number;
    records: number;
    samples: number;
    singleSamples: number;
    multiSamples: number;
    labels: number;
  };
  protocol: Protocol;
  split: SplitSpec;
  rounds: number;
  roundFraction: number;
  seed: number;
  ddi: boolean;
  /** Samples the metrics are computed on (the test parts; with k-fold every sample once). */
  testSamples: Record<Group, number>;
  summaryAcross: 'folds' | 'rounds';
  /** DDI rate and #Med of the ground-truth label sets, same rounds (Jaccard, F1, PR-AUC are null here). */
  groundTruth: Record<Group, MetricStats>;
  methods: MethodResult[];
  comparisons: Comparison[];
  labels: string[];
  notes: string[];
}

export function meanStd(values: ReadonlyArray<number | null>): Stat | null {
  const v = values.filter((x): x is number => x !== null && !Number.isNaN(x));
  if (v.length === 0) return null;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return { mean, std: Math.sqrt(variance), n: v.length };
}

/** The samples a protocol evaluates: every record, or each patient's last target encounter. */
export function protocolSamples(records: readonly DatasetRecord[], protocol: Protocol): DatasetRecord[] {
  if (protocol === 'all') return [...records];
  const last = new Map<string, DatasetRecord>();
  for (const r of records) {
    const prev = last.get(r.patientId);
    if (!prev || r.visitIndex > prev.visitIndex || (r.visitIndex === prev.visitIndex && r.start > prev.start)) last.set(r.patientId, r);
  }
  return records.filter((r) => last.get(r.patientId) === r);
}

export const isSingle = (r: DatasetRecord): boolean => r.history.length === 0;

/** Per-sample values of one method on one test part (or of the ground truth). */
interface SampleScores {
  jaccard: Float64Array;
  f1: Float64Array;
  prAuc: Float64Array;
  med: Float64Array;
  pairs: Float64Array;
  interacting: Float64Array;
}

function emptyScores(n: number): SampleScores {
  return {
    jaccard: new Float64Array(n),
    f1: new Float64Array(n),
    prAuc: new Float64Array(n),
    med: new Float64Array(n),
    pairs: new Float64Array(n),
    interacting: new Float64Array(n),
  };
}

function aggregate(s: SampleScores, idx: readonly number[], ddi: boolean, setMetrics: boolean): MetricValues {
  if (idx.length === 0) return { jaccard: null, f1: null, prAuc: null, ddiRate: null, med: null };
  let jac = 0;
  let f = 0;
  let ap = 0;
  let apN = 0;
  let med = 0;
  let pairs = 0;
  let inter = 0;
  for (const i of idx) {
    jac += s.jaccard[i] as number;
    f += s.f1[i] as number;
    const a = s.prAuc[i] as number;
    if (!Number.isNaN(a)) {
      ap += a;
      apN++;
    }
    med += s.med[i] as number;
    pairs += s.pairs[i] as number;
    inter += s.interacting[i] as number;
  }
  return {
    jaccard: setMetrics ? jac / idx.length : null,
    f1: setMetrics ? f / idx.length : null,
    prAuc: setMetrics && apN > 0 ? ap / apN : null,
    ddiRate: ddi ? (pairs === 0 ? 0 : inter / pairs) : null,
    med: med / idx.length,
  };
}

function groupsOf(idx: readonly number[], single: Uint8Array): Record<Group, number[]> {
  return {
    overall: [...idx],
    single: idx.filter((i) => single[i] === 1),
    multi: idx.filter((i) => single[i] === 0),
  };
}

function statsOf(values: ReadonlyArray<Record<Group, MetricValues>>): Record<Group, MetricStats> {
  const out = {} as Record<Group, MetricStats>;
  for (const g of GROUPS) {
    const m = {} as MetricStats;
    for (const k of METRICS) m[k] = meanStd(values.map((v) => v[g][k]));
    out[g] = m;
  }
  return out;
}

function evaluateSet(
  s: SampleScores,
  subsets: readonly number[][],
  all: readonly number[],
  single: Uint8Array,
  ddi: boolean,
  setMetrics: boolean,
): { full: Record<Group, MetricValues>; rounds: Array<Record<Group, MetricValues>> } {
  const pick = (idx: readonly number[]) => {
    const g = groupsOf(idx, single);
    return {
      overall: aggregate(s, g.overall, ddi, setMetrics),
      single: aggregate(s, g.single, ddi, setMetrics),
      multi: aggregate(s, g.multi, ddi, setMetrics),
    };
  };
  return { full: pick(all), rounds: subsets.map(pick) };
}

function validatePredictions(method: string, scores: Float32Array[], n: number, labels: number): void {
  if (!Array.isArray(scores) || scores.length !== n) {
    throw new Error(`method ${method}: predict returned ${Array.isArray(scores) ? scores.length : typeof scores} vectors for ${n} records`);
  }
  for (let i = 0; i < n; i++) {
    const v = scores[i] as Float32Array;
    if (v.length !== labels) throw new Error(`method ${method}: score vector ${i} has ${v.length} entries, expected ${labels} (one per label)`);
    for (let j = 0; j < labels; j++) {
      if (!Number.isFinite(v[j] as number)) throw new Error(`method ${method}: score vector ${i} has a non-finite score at label ${j}`);
    }
  }
}

interface Part {
  fold: number;
  train: DatasetRecord[];
  validation: DatasetRecord[];
  test: DatasetRecord[];
}

function makeParts(samples: DatasetRecord[], split: SplitSpec, seed: number): Part[] {
  if (split.kind === 'holdout') {
    const s = splitByPatient(samples, { train: split.train, validation: split.validation, test: split.test }, seed);
    return [{ fold: 0, ...s }];
  }
  if (!(split.validationFraction >= 0 && split.validationFraction < 1)) {
    throw new RangeError(`validation fraction must be in [0, 1), got ${split.validationFraction}`);
  }
  return kFoldByPatient(samples, split.folds, seed).map((f) => {
    if (split.validationFraction === 0) return { fold: f.fold, train: f.train, validation: [], test: f.test };
    const inner = splitByPatient(f.train, { train: 1 - split.validationFraction, validation: 0, test: split.validationFraction }, seed + 7919 * (f.fold + 1));
    return { fold: f.fold, train: inner.train, validation: inner.test, test: f.test };
  });
}

/** Sorted label vocabulary of the evaluated samples (targets and history). */
export function labelVocabulary(records: readonly DatasetRecord[]): string[] {
  const set = new Set<string>();
  for (const r of records) {
    for (const l of r.labels) set.add(l);
    for (const h of r.history) for (const l of h.medications) set.add(l);
  }
  return [...set].sort();
}

export async function evaluate(options: EvaluateOptions): Promise<EvaluationReport> {
  const started = performance.now();
  const rounds = options.rounds ?? 10;
  const roundFraction = options.roundFraction ?? 0.8;
  const seed = options.seed ?? 42;
  const protocol = options.protocol ?? 'last';
  const { dataset, methods, split } = options;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${rounds}`);
  if (!(roundFraction > 0 && roundFraction <= 1)) throw new RangeError(`round fraction must be in (0, 1], got ${roundFraction}`);
  if (methods.length === 0) throw new RangeError('no method to evaluate');
  const names = methods.map((m) => m.name);
  if (new Set(names).size !== names.length) throw new RangeError(`method names must be unique, got ${names.join(', ')}`);

  const samples = protocolSamples(dataset.records, protocol);
  if (samples.length === 0) throw new RangeError('the dataset has no records to evaluate');
  const labels = labelVocabulary(samples);
  const labelIdx = new Map(labels.map((l, i) => [l, i]));
  const L = labels.length;
  const ddi = options.interacts !== undefined;
  const matrix = options.interacts ? new InteractionMatrix(labels, options.interacts) : undefined;
  const parts = makeParts(samples, split, seed);
  options.onProgress?.({ type: 'start', methods: names, folds: parts.length, samples: samples.length, labels: L });

  type Acc = {
    folds: FoldResult[];
    roundValues: Array<Record<Group, MetricValues>>;
    columns: Float32Array[];
    fit: number;
    predict: number;
    threshold: number;
  };
  const acc = new Map<string, Acc>(names.map((n) => [n, { folds: [], roundValues: [], columns: [], fit: 0, predict: 0, threshold: Number.NaN }]));
  const truthRounds: Array<Record<Group, MetricValues>> = [];
  const truthFull: Array<Record<Group, MetricValues>> = [];
  const testTruth: Array<Set<number>> = [];
  const testSamples: Record<Group, number> = { overall: 0, single: 0, multi: 0 };
  const trainFreqSum = new Float64Array(L);
  /** Overall-group value per pairing unit (fold or round), by method, for the paired comparisons. */
  const paired = new Map<string, Array<MetricValues>>(names.map((n) => [n, []]));

  for (const part of parts) {
    const { train, validation, test } = part;
    if (train.length === 0 || test.length === 0) throw new RangeError(`fold ${part.fold}: empty train or test part (too few patients)`);
    options.onProgress?.({ type: 'fold', fold: part.fold, folds: parts.length, train: train.length, validation: validation.length, test: test.length });
    const freq = labelFrequencies(train, labels);
    for (let j = 0; j < L; j++) trainFreqSum[j] = (trainFreqSum[j] as number) + (freq[j] as number);

    const n = test.length;
    const single = Uint8Array.from(test, (r) => (isSingle(r) ? 1 : 0));
    testSamples.overall += n;
    testSamples.single += single.reduce((a, b) => a + b, 0);
    testSamples.multi = testSamples.overall - testSamples.single;
    const truth = test.map((r) => new Set(r.labels.map((l) => labelIdx.get(l) as number)));
    testTruth.push(...truth);
    const all = Array.from({ length: n }, (_, i) => i);
    const rand = new SeededRandom(seed + 104729 * (part.fold + 1));
    const size = Math.max(1, Math.round(n * roundFraction));
    const subsets = Array.from({ length: rounds }, () => rand.sample(n, size));

    const gt = emptyScores(n);
    truth.forEach((t, i) => {
      gt.med[i] = t.size;
      if (matrix) {
        const c = matrix.pairs(t);
        gt.pairs[i] = c.pairs;
        gt.interacting[i] = c.interacting;
      }
    });
    const gtEval = evaluateSet(gt, subsets, all, single, ddi, false);
    truthFull.push(gtEval.full);
    truthRounds.push(...gtEval.rounds);

    for (const method of methods) {
      const a = acc.get(method.name) as Acc;
      options.onProgress?.({ type: 'fit-start', method: method.name, fold: part.fold });
      const rec = await method.create();
      const fitStart = performance.now();
      let fit: FitReport;
      let scores: Float32Array[];
      let fitSeconds: number;
      let predictSeconds: number;
      try {
        try {
          fit = await rec.fit(train, validation, {
            labels,
            seed: seed + part.fold,
            onProgress: (event) => options.onProgress?.({ type: 'fit', method: method.name, fold: part.fold, event }),
          });
        } catch (err) {
          throw new Error(`method ${method.name}, fold ${part.fold}: fit failed: ${(err as Error).message}`, { cause: err });
        }
        fitSeconds = (performance.now() - fitStart) / 1000;
        // After fit: a method may choose its threshold on the validation split.
        a.threshold = rec.threshold;
        const predStart = performance.now();
        scores = await rec.predict(test);
        predictSeconds = (performance.now() - predStart) / 1000;
      } finally {
        await rec.close?.();
      }
      validatePredictions(method.name, scores, n, L);

      const s = emptyScores(n);
      for (let i = 0; i < n; i++) {
        const v = scores[i] as Float32Array;
        const t = truth[i] as Set<number>;
        const p = predictedSet(v, rec.threshold);
        s.jaccard[i] = jaccard(p, t);
        s.f1[i] = f1(p, t);
        s.prAuc[i] = averagePrecision(v, t);
        s.med[i] = p.size;
        if (matrix) {
          const c = matrix.pairs(p);
          s.pairs[i] = c.pairs;
          s.interacting[i] = c.interacting;
        }
      }
      a.columns.push(...scores);
      const e = evaluateSet(s, subsets, all, single, ddi, true);
      a.roundValues.push(...e.rounds);
      a.fit += fitSeconds;
      a.predict += predictSeconds;
      a.folds.push({
        fold: part.fold,
        trainSamples: train.length,
        validationSamples: validation.length,
        testSamples: n,
        full: e.full,
        rounds: statsOf(e.rounds),
        fit,
        fitSeconds,
        predictSeconds,
      });
      const units = split.kind === 'k-fold' ? [e.full] : e.rounds;
      (paired.get(method.name) as MetricValues[]).push(...units.map((u) => u.overall));
      options.onProgress?.({ type: 'method-done', method: method.name, fold: part.fold, fitSeconds, predictSeconds, prAuc: e.full.overall.prAuc });
    }
  }

  const summaryAcross = split.kind === 'k-fold' ? 'folds' : 'rounds';
  const totalTest = testTruth.length;
  const methodResults: MethodResult[] = names.map((name) => {
    const a = acc.get(name) as Acc;
    return {
      name,
      threshold: a.threshold,
      summary: summaryAcross === 'folds' ? statsOf(a.folds.map((f) => f.full)) : statsOf(a.roundValues),
      rounds: statsOf(a.roundValues),
      folds: a.folds,
      perLabel: perLabel(labels, dataset.names, a.columns, testTruth, trainFreqSum, parts.length),
      seconds: { fit: a.fit, predict: a.predict, predictPerSampleMs: (a.predict * 1000) / totalTest },
    };
  });

  const report: EvaluationReport = {
    format: 'leader-evaluation',
    version: 1,
    createdAt: new Date().toISOString(),
    dataset: {
      mapping: dataset.header.mapping,
      labelSpace: dataset.header.labelSpace,
      fingerprint: dataset.summary.fingerprint,
      patients: new Set(dataset.records.map((r) => r.patientId)).size,
      records: dataset.records.length,
      samples: samples.length,
      singleSamples: samples.filter(isSingle).length,
      multiSamples: samples.filter((r) => !isSingle(r)).length,
      labels: L,
    },
    protocol,
    split,
    rounds,
    roundFraction,
    seed,
    ddi,
    testSamples,
    summaryAcross,
    groundTruth: summaryAcross === 'folds' ? statsOf(truthFull) : statsOf(truthRounds),
    methods: methodResults,
    comparisons: compare(names, paired),
    labels,
    notes: [],
  };
  report.notes = notesFor(report);
  options.onProgress?.({ type: 'done', seconds: (performance.now() - started) / 1000 });
  return report;
}

function perLabel(
  labels: readonly string[],
  names: Record<string, string>,
  columns: readonly Float32Array[],
  truth: ReadonlyArray<Set<number>>,
  trainFreqSum: Float64Array,
  folds: number,
): LabelResult[] {
  const n = columns.length;
  const col = new Float32Array(n);
  return labels.map((label, j) => {
    const positives = new Set<number>();
    for (let i = 0; i < n; i++) {
      col[i] = (columns[i] as Float32Array)[j] as number;
      if ((truth[i] as Set<number>).has(j)) positives.add(i);
    }
    const ap = positives.size === 0 ? null : averagePrecision(col, positives);
    const name = names[label];
    return {
      label,
      ...(name === undefined ? {} : { name }),
      trainFrequency: (trainFreqSum[j] as number) / folds,
      testPositives: positives.size,
      prAuc: ap,
    };
  });
}

/** For PR-AUC and Jaccard: the best method against every other, paired by fold or round. */
function compare(names: readonly string[], paired: Map<string, MetricValues[]>): Comparison[] {
  const out: Comparison[] = [];
  if (names.length < 2) return out;
  for (const metric of ['prAuc', 'jaccard', 'f1'] as const) {
    const mean = (name: string) => meanStd((paired.get(name) as MetricValues[]).map((v) => v[metric]))?.mean ?? -Infinity;
    const best = [...names].sort((a, b) => mean(b) - mean(a))[0] as string;
    for (const other of names) {
      if (other === best) continue;
      const a = paired.get(best) as MetricValues[];
      const b = paired.get(other) as MetricValues[];
      const diffs: number[] = [];
      for (let i = 0; i < a.length; i++) {
        const x = a[i]?.[metric];
        const y = b[i]?.[metric];
        if (x !== null && x !== undefined && y !== null && y !== undefined) diffs.push(x - y);
      }
      const d = meanStd(diffs);
      if (!d) continue;
      const wins = diffs.filter((x) => x > 0).length;
      out.push({ metric, better: best, other, difference: d, wins, separated: wins === diffs.length && d.mean > d.std });
    }
  }
  return out;
}

const METRIC_LABEL: Record<MetricName, string> = { jaccard: 'Jaccard', f1: 'F1', prAuc: 'PR-AUC', ddiRate: 'DDI rate', med: '#Med' };

function notesFor(r: EvaluationReport): string[] {
  const notes: string[] = [];
  notes.push(
    r.protocol === 'last'
      ? 'Protocol "last": one sample per patient, the last target encounter (as in the LEADER paper).'
      : 'Protocol "all": every target encounter is a sample (patients with several encounters weigh more).',
  );
  notes.push(
    r.summaryAcross === 'folds'
      ? `Mean ± std across ${r.split.kind === 'k-fold' ? r.split.folds : 1} patient folds (each fold: metrics on its whole test part); per-fold round statistics are in the JSON.`
      : `Mean ± std across ${r.rounds} rounds, each on a random ${Math.round(r.roundFraction * 100)}% of the test patients drawn without replacement.`,
  );
  if (!r.ddi) notes.push('No interaction pairs were given (no --mapping): DDI rates are not computed.');
  if (r.dataset.singleSamples === 0) notes.push('No single-encounter sample: the single group is empty.');
  if (r.dataset.multiSamples === 0) notes.push('No multi-encounter sample: the multi group is empty.');
  for (const c of r.comparisons) {
    if (c.metric === 'f1') continue;
    const d = `${c.difference.mean >= 0 ? '+' : ''}${c.difference.mean.toFixed(4)} ± ${c.difference.std.toFixed(4)}`;
    if (!c.separated) {
      notes.push(
        `${METRIC_LABEL[c.metric]}: ${c.better} vs ${c.other} is not separated on this data (paired difference ${d}, ahead in ${c.wins} of ${c.difference.n} ${r.summaryAcross}).`,
      );
    }
  }
  if (r.summaryAcross === 'rounds') {
    notes.push('Rounds resample one test set: their spread reflects test sampling only, not training variance; they overlap, so paired round differences overstate certainty.');
  }
  return notes;
}
