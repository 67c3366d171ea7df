// `leader-cds evaluate`: every method on the same patient-level splits, one command; prints the
// metric table and writes report.json, report.html (self-contained) and report.md.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { numberOption } from '../options.ts';
import type { StudentMethodOptions } from '../../eval/method.ts';
import type { EvaluationProgress, EvaluationReport, Protocol, SplitSpec } from '../../eval/harness.ts';

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
  studentEpochs?: string;
  studentLr?: string;
  studentPatience?: string;
  studentBatch?: string;
  studentDim?: string;
  studentHidden?: string;
  studentRecency?: string;
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
  return {
    ...(epochs !== undefined ? { epochs } : {}),
    ...(learningRate !== undefined ? { learningRate } : {}),
    ...(patience !== undefined ? { patience } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(dim !== undefined ? { dim } : {}),
    ...(hidden !== undefined ? { hidden } : {}),
    ...(recency !== undefined ? { recency: recency as (typeof RECENCY)[number] } : {}),
  };
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
  const names = opts.methods.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new CliError('--methods: name at least one method', 2);

  const { methodFactory, MethodUnavailableError } = await import('../../eval/registry.ts');
  const { evaluate } = await import('../../eval/harness.ts');
  const { readDataset, DatasetError } = await import('../../dataset/io.ts');
  const { MappingError } = await import('../../mapping/errors.ts');

  // Unknown or unavailable methods fail before the dataset is read or anything is trained.
  const methods = [];
  for (const name of names) {
    try {
      methods.push({
        name,
        create: await methodFactory(name, {
          student: { ...(opts.teacherStates ? { teacherStates: path.resolve(opts.teacherStates) } : {}), ...student },
        }),
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
  }

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
    .option('--methods <list>', 'comma-separated: most-frequent, previous, logreg, leader-s, leader-s-nodistill', 'most-frequent,previous,logreg')
    .option('--folds <k>', 'k-fold by patient (for small data)')
    .option('--split <train,validation,test>', 'holdout by patient (default 0.8,0.1,0.1 when --folds is not given)')
    .option('--validation <fraction>', 'k-fold: share of each fold\'s training patients held out for validation', '0.1')
    .option('--rounds <n>', 'robustness rounds per test part (random 80% without replacement)', '10')
    .option('--seed <n>', 'seed for splits, rounds and training', '42')
    .option('--protocol <last|all>', 'last: one sample per patient, its last encounter (paper); all: every encounter', 'last')
    .option('--out <dir>', 'where report.json, report.html and report.md go', 'evaluation-report')
    .option('--teacher-states <file>', 'teacher hidden states for leader-s distillation')
    .option('--student-epochs <n>', 'upper bound on student training epochs')
    .option('--student-lr <rate>', 'student Adam learning rate (default 5e-4)')
    .option('--student-patience <n>', 'student early stopping: epochs without a better validation PR-AUC (default 10)')
    .option('--student-batch <n>', 'student training batch size (default 64)')
    .option('--student-dim <d>', 'student embedding/transformer width, a multiple of 4 (default 64)')
    .option('--student-hidden <n>', 'student head width, the distillation feature z (default 128)')
    .option('--student-recency <none|position>', 'recency across encounters: position = learned distance-to-current embedding (default none)')
    .option('--title <text>', 'report title')
    .option('--no-progress', 'no progress bar')
    .action(action);
}
