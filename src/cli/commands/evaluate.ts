// `leader-cds evaluate`: every method on the same patient-level splits, one command; prints the
// metric table and writes report.json, report.html (self-contained) and report.md.
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { numberOption } from '../options.ts';
import { WIDE_MODES } from '../../model/student/config.ts';
import type { StudentMethodOptions } from '../../eval/method.ts';
import type { EvaluationProgress, EvaluationReport, Protocol, SplitSpec } from '../../eval/harness.ts';
import type { BackendName } from '../../model/tf/backend.ts';
import type { FoldTeachers, TeacherSettings } from '../../teacher/fold-teachers.ts';

export interface EvaluateCommandOptions {
  dataset: string;
  mapping?: string;
  methods: string;
  folds?: string;
  split?: string;
  validation: string;
  rounds: string;
  seed: string;
  protocol: string;
  out: string;
  teacherStates?: string;
  teacherCheckpoint?: string;
  teacherSteps?: string;
  teacherPretrainSteps?: string;
  teacherHidden?: string;
  teacherLayers?: string;
  teacherContext?: string;
  teacherBatch?: string;
  teacherAccumulation?: string;
  teacherLr?: string;
  teacherVocab?: string;
  teacherWordVectors?: string;
  teacherBackend?: string;
  studentEpochs?: string;
  studentLr?: string;
  studentPatience?: string;
  studentBatch?: string;
  studentDim?: string;
  studentHidden?: string;
  studentRecency?: string;
  studentWide?: string;
  studentWideLr?: string;
  studentWideL2?: string;
  studentWideDropout?: string;
  thresholdFrom?: string;
  title?: string;
  progress: boolean;
}

function integer(option: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${option}: expected an integer >= ${min}, got ${JSON.stringify(text)}`, 2);
  return n;
}

function fraction(option: string, text: string, lo: number, hi: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < lo || n >= hi) throw new CliError(`${option}: expected a number in [${lo}, ${hi}), got ${JSON.stringify(text)}`, 2);
  return n;
}

export function parseSplit(opts: Pick<EvaluateCommandOptions, 'folds' | 'split' | 'validation'>): SplitSpec {
  if (opts.folds !== undefined && opts.split !== undefined) throw new CliError('use either --folds or --split, not both', 2);
  if (opts.folds !== undefined) {
    return { kind: 'k-fold', folds: integer('--folds', opts.folds, 2), validationFraction: fraction('--validation', opts.validation, 0, 1) };
  }
  const text = opts.split ?? '0.8,0.1,0.1';
  const parts = text.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) || !((parts[0] as number) > 0) || !((parts[2] as number) > 0)) {
    throw new CliError(`--split: expected train,validation,test fractions (train and test > 0), e.g. 0.8,0.1,0.1; got ${JSON.stringify(text)}`, 2);
  }
  const [train, validation, test] = parts as [number, number, number];
  return { kind: 'holdout', train, validation, test };
}

const RECENCY = ['none', 'position'] as const;
const WIDE = WIDE_MODES;

/** The student's training and shape options from the `--student-*` flags; a bad value names its flag. */
export function parseStudentOptions(opts: Partial<EvaluateCommandOptions>): Omit<StudentMethodOptions, 'name' | 'alpha' | 'beta' | 'teacherStates'> {
  const num = (flag: string, text: string | undefined, o: Parameters<typeof numberOption>[1]) => (text === undefined ? undefined : numberOption(flag, o)(text));
  const epochs = num('--student-epochs', opts.studentEpochs, { int: true, min: 1 });
  const learningRate = num('--student-lr', opts.studentLr, { min: 1e-7, max: 1 });
  const patience = num('--student-patience', opts.studentPatience, { int: true, min: 1 });
  const batchSize = num('--student-batch', opts.studentBatch, { int: true, min: 1 });
  const dim = num('--student-dim', opts.studentDim, { int: true, min: 4, max: 1024 });
  // The student has 4 attention heads: the width must split evenly between them.
  if (dim !== undefined && dim % 4 !== 0) throw new CliError(`--student-dim must be a multiple of 4 (the attention heads), got ${dim}`, 2);
  const hidden = num('--student-hidden', opts.studentHidden, { int: true, min: 1, max: 4096 });
  const recency = opts.studentRecency;
  if (recency !== undefined && !(RECENCY as readonly string[]).includes(recency))
    throw new CliError(`--student-recency must be one of ${RECENCY.join(', ')}, got '${recency}'`, 2);
  const wide = opts.studentWide;
  if (wide !== undefined && !(WIDE as readonly string[]).includes(wide)) throw new CliError(`--student-wide must be one of ${WIDE.join(', ')}, got '${wide}'`, 2);
  const wideLearningRate = num('--student-wide-lr', opts.studentWideLr, { min: 1e-7, max: 1 });
  if (wideLearningRate !== undefined && (wide === undefined || wide === 'none')) throw new CliError('--student-wide-lr needs --student-wide linear or hidden', 2);
  const wideL2 = num('--student-wide-l2', opts.studentWideL2, { min: 0, max: 1 });
  if (wideL2 !== undefined && (wide === undefined || wide === 'none')) throw new CliError('--student-wide-l2 needs --student-wide linear or hidden', 2);
  const wideDropout = num('--student-wide-dropout', opts.studentWideDropout, { min: 0, max: 0.95 });
  if (wideDropout !== undefined && wide !== 'hidden') throw new CliError('--student-wide-dropout needs --student-wide hidden', 2);
  return {
    ...(epochs !== undefined ? { epochs } : {}),
    ...(learningRate !== undefined ? { learningRate } : {}),
    ...(patience !== undefined ? { patience } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(dim !== undefined ? { dim } : {}),
    ...(hidden !== undefined ? { hidden } : {}),
    ...(recency !== undefined ? { recency: recency as (typeof RECENCY)[number] } : {}),
    ...(wide !== undefined ? { wide: wide as (typeof WIDE)[number] } : {}),
    ...(wideLearningRate !== undefined ? { wideLearningRate } : {}),
    ...(wideL2 !== undefined ? { wideL2 } : {}),
    ...(wideDropout !== undefined ? { wideDropout } : {}),
  };
}

/** Per-fold teacher settings from the `--teacher-*` flags (leader-t; leader-s without --teacher-states); a bad value names its flag. */
export async function parseTeacherOptions(opts: Partial<EvaluateCommandOptions>): Promise<{ settings: TeacherSettings; backend: BackendName | 'auto' }> {
  const num = (flag: string, text: string | undefined, o: Parameters<typeof numberOption>[1]) => (text === undefined ? undefined : numberOption(flag, o)(text));
  const steps = num('--teacher-steps', opts.teacherSteps, { int: true, min: 1 });
  const pretrainSteps = num('--teacher-pretrain-steps', opts.teacherPretrainSteps, { int: true, min: 0 });
  const hiddenSize = num('--teacher-hidden', opts.teacherHidden, { int: true, min: 8 });
  const numLayers = num('--teacher-layers', opts.teacherLayers, { int: true, min: 1 });
  const context = num('--teacher-context', opts.teacherContext, { int: true, min: 16 });
  const batchSize = num('--teacher-batch', opts.teacherBatch, { int: true, min: 1 });
  const accumulation = num('--teacher-accumulation', opts.teacherAccumulation, { int: true, min: 1 });
  const learningRate = num('--teacher-lr', opts.teacherLr, { min: 1e-9, max: 1 });
  const tokenizerVocab = num('--teacher-vocab', opts.teacherVocab, { int: true, min: 300 });
  const { parseWordVectorSource } = await import('../../teacher/word-vectors.ts');
  let wordVectors;
  try {
    wordVectors = opts.teacherWordVectors === undefined ? undefined : parseWordVectorSource(opts.teacherWordVectors, '--teacher-word-vectors');
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  if (wordVectors !== undefined && wordVectors !== 'none' && opts.teacherCheckpoint !== undefined) {
    throw new CliError(`--teacher-word-vectors ${wordVectors} seeds teachers trained from scratch; --teacher-checkpoint has its own embeddings`, 2);
  }
  if (opts.teacherCheckpoint !== undefined && !existsSync(path.join(opts.teacherCheckpoint, 'config.json'))) {
    throw new CliError(`--teacher-checkpoint ${opts.teacherCheckpoint}: no config.json there (a local Hugging Face checkpoint folder is expected)`, 2);
  }
  const { parseBackendChoice } = await import('../../model/tf/backend.ts');
  let backend: BackendName | 'auto';
  try {
    backend = parseBackendChoice(opts.teacherBackend ?? 'auto');
  } catch (err) {
    throw new CliError(`--teacher-backend: ${(err as Error).message}`, 2);
  }
  const model = {
    ...(hiddenSize !== undefined ? { hiddenSize, intermediateSize: Math.round((hiddenSize * 8) / 3 / 8) * 8 } : {}),
    ...(numLayers !== undefined ? { numLayers } : {}),
    ...(context !== undefined ? { maxPositions: context } : {}),
  };
  const settings: TeacherSettings = {
    ...(opts.teacherCheckpoint !== undefined ? { checkpoint: path.resolve(opts.teacherCheckpoint) } : {}),
    ...(steps !== undefined ? { steps } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(accumulation !== undefined ? { accumulation } : {}),
    ...(learningRate !== undefined ? { learningRate } : {}),
    scratch: { model, ...(pretrainSteps !== undefined ? { pretrainSteps } : {}), ...(tokenizerVocab !== undefined ? { tokenizerVocab } : {}), ...(wordVectors !== undefined ? { wordVectors } : {}) },
  };
  return { settings, backend };
}

function parseProtocol(text: string): Protocol {
  if (text !== 'last' && text !== 'all') throw new CliError(`--protocol: expected last or all, got ${JSON.stringify(text)}`, 2);
  return text;
}

async function progressReporter(enabled: boolean): Promise<{ onProgress: (e: EvaluationProgress) => void; stop: () => void }> {
  if (!enabled || !process.stderr.isTTY) {
    // Without a terminal, one line per finished method and fold keeps logs readable.
    return {
      onProgress: (e) => {
        if (e.type === 'method-done') {
          process.stderr.write(`fold ${e.fold}: ${e.method} fitted in ${e.fitSeconds.toFixed(1)} s, PR-AUC ${e.prAuc === null ? '–' : e.prAuc.toFixed(4)}\n`);
        }
      },
      stop: () => undefined,
    };
  }
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar(
    { format: 'evaluating [{bar}] {value}/{total} fits | fold {fold} {method} {detail}', stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (e) => {
      switch (e.type) {
        case 'start':
          bar.start(e.folds * e.methods.length, 0, { fold: '', method: '', detail: '' });
          started = true;
          break;
        case 'fit-start':
          bar.update({ fold: e.fold, method: e.method, detail: 'fitting' });
          break;
        case 'fit':
          if (e.event.type === 'epoch') {
            const v = e.event.validPrAuc === undefined ? '' : ` valid PR-AUC ${e.event.validPrAuc.toFixed(4)}`;
            bar.update({ detail: `epoch ${e.event.epoch}/${e.event.epochs} loss ${e.event.trainLoss.toFixed(4)}${v}` });
          }
          break;
        case 'method-done':
          bar.increment(1, { detail: `PR-AUC ${e.prAuc === null ? '–' : e.prAuc.toFixed(4)}` });
          break;
        default:
          break;
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** Runs the evaluation and writes the report files; returns the report and the paths written. */
export async function runEvaluate(opts: EvaluateCommandOptions): Promise<{ report: EvaluationReport; files: string[] }> {
  const split = parseSplit(opts);
  const protocol = parseProtocol(opts.protocol);
  const rounds = integer('--rounds', opts.rounds, 1);
  const seed = integer('--seed', opts.seed, 0);
  const student = parseStudentOptions(opts);
  const thresholdFrom = opts.thresholdFrom;
  if (thresholdFrom !== undefined && thresholdFrom !== 'fixed' && thresholdFrom !== 'validation')
    throw new CliError(`--threshold-from must be fixed or validation, got '${thresholdFrom}'`, 2);
  const tuned = thresholdFrom ? { thresholdFrom: thresholdFrom as 'fixed' | 'validation' } : {};
  const teacher = await parseTeacherOptions(opts);
  const listed = opts.methods.split(',').map((s) => s.trim()).filter(Boolean);
  if (listed.length === 0) throw new CliError('--methods: name at least one method', 2);

  const { ABLATION_METHODS, createFoldTeachers, methodFactory, methodNotes, MethodUnavailableError, usesFoldTeacher } = await import('../../eval/registry.ts');
  // `ablation` stands for the distillation ablation (student alone, + alignment, + features, both, teacher).
  const names = [...new Set(listed.flatMap((n) => (n === 'ablation' ? [...ABLATION_METHODS] : [n])))];
  const teacherStates = opts.teacherStates ? { teacherStates: path.resolve(opts.teacherStates) } : {};
  // One teacher pool for all methods: a fold's teacher is fitted once, on its training patients. The
  // display names come from the dataset, read after the methods are checked.
  const promptNames: { names: Readonly<Record<string, string>> } = { names: {} };
  const teachers: FoldTeachers | undefined = names.some((n) => usesFoldTeacher(n, { student: teacherStates }))
    ? await createFoldTeachers({ names: () => promptNames.names, settings: teacher.settings, backend: teacher.backend })
    : undefined;
  const { evaluate } = await import('../../eval/harness.ts');
  const { readDataset, DatasetError } = await import('../../dataset/io.ts');
  const { MappingError } = await import('../../mapping/errors.ts');

  // Unknown or unavailable methods fail before the dataset is read or anything is trained.
  const methods = [];
  for (const name of names) {
    try {
      methods.push({
        name,
        create: await methodFactory(name, { student: { ...teacherStates, ...student, ...tuned }, ...tuned, ...(teachers ? { teachers } : {}) }),
      });
    } catch (err) {
      if (err instanceof MethodUnavailableError) throw new CliError(`--methods: ${err.message}`, 2);
      throw err;
    }
  }

  let dataset;
  try {
    dataset = await readDataset(opts.dataset);
  } catch (err) {
    if (err instanceof DatasetError) throw new CliError(`--dataset ${err.message}`, 2);
    throw err;
  }
  promptNames.names = dataset.names;
  let interacts: ((a: string, b: string) => boolean) | undefined;
  if (opts.mapping) {
    const { loadMapping } = await import('../../mapping/load.ts');
    try {
      const mapping = await loadMapping(opts.mapping);
      interacts = (a, b) => mapping.interacts(a, b);
      if (mapping.name !== dataset.header.mapping) {
        process.stderr.write(`warning: --mapping is ${JSON.stringify(mapping.name)} but the dataset was built with ${JSON.stringify(dataset.header.mapping)}\n`);
      }
    } catch (err) {
      if (err instanceof MappingError) throw new CliError(`--mapping: ${err.message}`, 2);
      throw err;
    }
  }

  const progress = await progressReporter(opts.progress);
  let report: EvaluationReport;
  try {
    report = await evaluate({ dataset, methods, split, rounds, seed, protocol, onProgress: progress.onProgress, ...(interacts ? { interacts } : {}) });
  } catch (err) {
    if (err instanceof RangeError) throw new CliError(`${opts.dataset}: ${err.message}`, 2);
    throw err;
  } finally {
    progress.stop();
    // The per-fold teachers are only needed while evaluating (the pool creates its folder on first use).
    teachers?.dispose();
  }
  report.notes.push(...methodNotes(names, { student: teacherStates }));

  const { renderHtmlReport } = await import('../../eval/report-html.ts');
  const { metricTableMarkdown } = await import('../../eval/report-table.ts');
  try {
    await mkdir(opts.out, { recursive: true });
  } catch (err) {
    throw new CliError(`--out ${opts.out}: ${(err as Error).message}`, 2);
  }
  const title = opts.title ?? `leader-cds evaluation: ${path.basename(opts.dataset)}`;
  const files = [path.join(opts.out, 'report.json'), path.join(opts.out, 'report.html'), path.join(opts.out, 'report.md')];
  const md = [`# ${title}`, '', ...report.notes.map((n) => `- ${n}`), '', metricTableMarkdown(report)].join('\n');
  await writeFile(files[0] as string, `${JSON.stringify(report, null, 1)}\n`);
  await writeFile(files[1] as string, renderHtmlReport(report, title));
  await writeFile(files[2] as string, md);
  return { report, files };
}

async function action(opts: EvaluateCommandOptions): Promise<void> {
  const { report, files } = await runEvaluate(opts);
  const { metricTableText } = await import('../../eval/report-table.ts');
  const lines = [metricTableText(report), 'Notes:', ...report.notes.map((n) => `  - ${n}`), '', `wrote ${files.join(', ')}`];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description('compare methods (student, baselines) on patient-level splits: Jaccard, F1, PR-AUC, DDI rate, #Med with spread; JSON + HTML report')
    .requiredOption('--dataset <file>', 'dataset file (leader-cds dataset build)')
    .option('--mapping <file>', 'mapping config whose interaction pairs give the DDI rate')
    .option('--methods <list>', 'comma-separated: most-frequent, previous, logreg, mlp, leader-s, leader-s-nodistill, leader-s-align, leader-s-features, leader-t; ablation = the last five in the distillation ablation order', 'most-frequent,previous,logreg')
    .option('--folds <k>', 'k-fold by patient (for small data)')
    .option('--split <train,validation,test>', 'holdout by patient (default 0.8,0.1,0.1 when --folds is not given)')
    .option('--validation <fraction>', 'k-fold: share of each fold\'s training patients held out for validation', '0.1')
    .option('--rounds <n>', 'robustness rounds per test part (random 80% without replacement)', '10')
    .option('--seed <n>', 'seed for splits, rounds and training', '42')
    .option('--protocol <last|all>', 'last: one sample per patient, its last encounter (paper); all: every encounter', 'last')
    .option('--out <dir>', 'where report.json, report.html and report.md go', 'evaluation-report')
    .option('--teacher-states <file>', 'teacher features for leader-s / leader-s-features, fitted outside the folds (the report says so); default: a teacher per fold')
    .option('--teacher-checkpoint <dir>', 'per-fold teachers: LoRA on this local Hugging Face checkpoint (default: a small decoder from scratch)')
    .option('--teacher-steps <n>', 'per-fold teachers: fine-tuning steps (default 300)')
    .option('--teacher-pretrain-steps <n>', 'per-fold teachers from scratch: causal-LM pre-training steps (default 200)')
    .option('--teacher-hidden <n>', 'per-fold teachers from scratch: width (default 128)')
    .option('--teacher-layers <n>', 'per-fold teachers from scratch: decoder layers (default 4)')
    .option('--teacher-context <n>', 'per-fold teachers from scratch: context in tokens (default 512)')
    .option('--teacher-batch <n>', 'per-fold teachers: prompts per micro-batch (default 8)')
    .option('--teacher-accumulation <n>', 'per-fold teachers: micro-batches per step (default 4)')
    .option('--teacher-lr <rate>', 'per-fold teachers: peak learning rate (default 1e-3 scratch, 2e-4 LoRA)')
    .option('--teacher-vocab <n>', 'per-fold teachers from scratch: BPE vocabulary (default 2000)')
    .option('--teacher-word-vectors <name>', 'per-fold teachers from scratch: seed token embeddings from word vectors, none or wink-sg-100d (default none)')
    .option('--teacher-backend <name>', 'per-fold teachers: tfjs backend auto, tensorflow, wasm or cpu', 'auto')
    .option('--student-epochs <n>', 'upper bound on student training epochs')
    .option('--student-lr <rate>', 'student Adam learning rate (default 5e-4)')
    .option('--student-patience <n>', 'student early stopping: epochs without a better validation PR-AUC (default 10)')
    .option('--student-batch <n>', 'student training batch size (default 64)')
    .option('--student-dim <d>', 'student embedding/transformer width, a multiple of 4 (default 64)')
    .option('--student-hidden <n>', 'student head width, the distillation feature z (default 128)')
    .option('--student-recency <none|position>', 'recency across encounters: position = learned distance-to-current embedding (default), none = the order-free model of the paper')
    .option('--student-wide <none|linear|hidden>', 'linear = add a linear term over the logistic-regression features (current diagnoses/procedures, last and any earlier medications, profile) to the logits; hidden = one ReLU layer (256 units) over those features, then to the logits; none = deep model only (default)')
    .option('--student-wide-lr <rate>', 'Adam learning rate of the wide tables (default: --student-lr)')
    .option('--student-wide-l2 <n>', 'L2 penalty on the wide tables: n * sum of squared weights added to the loss (default 0)')
    .option('--student-wide-dropout <rate>', "dropout on the wide 'hidden' branch's units while training (default 0)")
    .option('--threshold-from <fixed|validation>', 'validation: logreg and the students pick the threshold with the best validation Jaccard (default fixed: 0.5 / 0.3)')
    .option('--title <text>', 'report title')
    .option('--no-progress', 'no progress bar')
    .action(action);
}
