// `leader-cds train` (dataset -> model directory) and `leader-cds recommend` (model + patients -> ranked labels).
import type { Command } from 'commander';
import type { DatasetRecord } from '../../dataset/types.ts';
import type { TrainDirectoryOptions } from '../../model/student/train-directory.ts';
import { CliError } from '../errors.ts';
import { numberOption } from '../options.ts';

import { WIDE_MODES } from '../../model/student/config.ts';

/** `--wide`: a value outside the modes is a one-line error naming the flag (exit 2). */
function wideOption(value: string): (typeof WIDE_MODES)[number] {
  if (!(WIDE_MODES as readonly string[]).includes(value)) throw new CliError(`--wide must be one of ${WIDE_MODES.join(', ')}, got '${value}'`, 2);
  return value as (typeof WIDE_MODES)[number];
}

/** Turns the model area's own errors into one-line CLI errors. */
async function asModelCliError<T>(work: () => Promise<T>): Promise<T> {
  const { asCliError } = await import('./mapping.ts');
  const { ModelLoadError } = await import('../../model/runtime/errors.ts');
  const { TrainingError } = await import('../../model/student/train.ts');
  const { TeacherFeaturesError } = await import('../../model/student/teacher-features.ts');
  return asCliError(async () => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ModelLoadError || err instanceof TeacherFeaturesError) throw new CliError(err.message, 2);
      if (err instanceof TrainingError) throw new CliError(`training: ${err.message}`, 1);
      throw err;
    }
  });
}

/** The train command's options are the library's, with file paths for the dataset and mapping and output flags. */
type TrainCliOptions = Omit<TrainDirectoryOptions, 'mapping' | 'split' | 'onProgress' | 'onStart' | 'maxVisits' | 'maxCodes' | 'learningRate'> & {
  dataset: string;
  mapping?: string;
  maxVisits: number;
  maxCodes: number;
  learningRate: number;
  quiet?: boolean;
  json?: boolean;
};

async function train(opts: TrainCliOptions): Promise<void> {
  const { readDataset } = await import('../../dataset/io.ts');
  const { trainModelDirectory } = await import('../../model/student/train-directory.ts');
  await asModelCliError(async () => {
    if (opts.alpha > 0 && !opts.teacherFeatures) throw new CliError(`--alpha ${opts.alpha} (distillation) needs --teacher-features <dir>`, 2);
    if (opts.wideLearningRate !== undefined && (opts.wide === undefined || opts.wide === 'none')) throw new CliError('--wide-learning-rate needs --wide linear or hidden', 2);
    if (opts.wideL2 !== undefined && (opts.wide === undefined || opts.wide === 'none')) throw new CliError('--wide-l2 needs --wide linear or hidden', 2);
    if (opts.wideDropout !== undefined && opts.wide !== 'hidden') throw new CliError('--wide-dropout needs --wide hidden', 2);
    if (opts.dim % 4 !== 0) throw new CliError(`--dim must be a multiple of 4 (attention heads), got ${opts.dim}`, 2);
    try {
      const { parseBackendChoice } = await import('../../model/tf/backend.ts');
      parseBackendChoice(opts.backend);
    } catch (err) {
      throw new CliError(`--backend: ${(err as Error).message}`, 2);
    }
    const dataset = await readDataset(opts.dataset);
    if (dataset.records.length === 0) throw new CliError(`${opts.dataset}: the dataset has no records`, 2);
    let mapping;
    if (opts.mapping) {
      const { loadMapping } = await import('../../mapping/load.ts');
      mapping = await loadMapping(opts.mapping);
      if (mapping.labelSpace !== dataset.header.labelSpace)
        throw new CliError(`--mapping ${opts.mapping} has label space '${mapping.labelSpace}', the dataset '${dataset.header.labelSpace}'`, 2);
    }
    const log = (text: string) => {
      if (!opts.quiet) process.stderr.write(`${text}\n`);
    };
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = opts.quiet || !process.stderr.isTTY ? undefined : new SingleBar({ format: 'epoch {value}/{total} |{bar}| loss {loss} valid PR-AUC {auc} {speed} samples/s' }, Presets.shades_classic);
    let result;
    try {
      result = await trainModelDirectory(dataset, {
        out: opts.out,
        ...(mapping ? { mapping } : {}),
        ...(opts.teacherFeatures ? { teacherFeatures: opts.teacherFeatures } : {}),
        alpha: opts.alpha,
        beta: opts.beta,
        epochs: opts.epochs,
        patience: opts.patience,
        batchSize: opts.batchSize,
        dim: opts.dim,
        ...(opts.wide ? { wide: opts.wide } : {}),
        ...(opts.wideLearningRate !== undefined ? { wideLearningRate: opts.wideLearningRate } : {}),
        ...(opts.wideL2 !== undefined ? { wideL2: opts.wideL2 } : {}),
        ...(opts.wideDropout !== undefined ? { wideDropout: opts.wideDropout } : {}),
        maxVisits: opts.maxVisits,
        maxCodes: opts.maxCodes,
        learningRate: opts.learningRate,
        seed: opts.seed,
        backend: opts.backend,
        ...(opts.modelVersion ? { modelVersion: opts.modelVersion } : {}),
        ...(opts.createdAt ? { createdAt: opts.createdAt } : {}),
        onStart: (s) => {
          log(`training LEADER(S) on ${s.train} records (${s.trainPatients} patients), validation ${s.validation}, test ${s.test}; tfjs backend ${s.backend.name}`);
          bar?.start(opts.epochs, 0, { loss: '-', auc: '-', speed: '-' });
        },
        onProgress: (e) => {
          if (e.type === 'epoch') {
            const fields = { loss: e.trainLoss.toFixed(4), auc: e.validPrAuc?.toFixed(4) ?? '-', speed: Math.round(e.samplesPerSecond ?? 0) };
            if (bar) bar.update(e.epoch, fields);
            else log(`epoch ${e.epoch}/${e.epochs} loss ${fields.loss} valid PR-AUC ${fields.auc} ${fields.speed} samples/s`);
          } else if (e.type === 'early-stop') {
            bar?.stop();
            log(`early stop at epoch ${e.epoch}: best validation PR-AUC ${e.bestValidPrAuc.toFixed(4)} at epoch ${e.bestEpoch}`);
          } else log(e.text);
        },
      });
    } finally {
      bar?.stop();
    }
    const { manifest: m, metrics, report: r, backend } = result;
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ out: opts.out, modelVersion: m.modelVersion, metrics, training: m.training, onnxBytes: result.onnxBytes }, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [
        `wrote ${opts.out} (model ${m.modelVersion}, ${(result.onnxBytes / 1024).toFixed(0)} KiB ONNX)`,
        `labels ${m.vocabularies.labels.length}, diagnoses ${m.vocabularies.diagnoses.length}, procedures ${m.vocabularies.procedures.length}`,
        `epochs ${r.epochsRun} (best ${r.bestEpoch ?? '-'}), ${Math.round(r.samplesPerSecond)} samples/s on ${backend.name}, ${r.seconds.toFixed(1)} s`,
        `validation: PR-AUC ${metrics.validation?.prAuc ?? '-'}, Jaccard ${metrics.validation?.jaccard ?? '-'}, F1 ${metrics.validation?.f1 ?? '-'} (${metrics.validation?.samples ?? 0} records)`,
        `test:       PR-AUC ${metrics.test?.prAuc ?? '-'}, Jaccard ${metrics.test?.jaccard ?? '-'}, F1 ${metrics.test?.f1 ?? '-'} (${metrics.test?.samples ?? 0} records)`,
      ].join('\n') + '\n',
    );
  });
}

interface RecommendCliOptions {
  model: string;
  input: string;
  mapping?: string;
  encounter?: string;
  top: number;
  json?: boolean;
}

interface Target {
  patientId: string;
  encounterId?: string;
  record?: DatasetRecord;
  /** Why there is no record (no encounter, encounter not found). */
  problem?: string;
}

async function isDatasetFile(file: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await handle.read(buf, 0, 512, 0);
    return buf.subarray(0, bytesRead).toString('utf8').includes('"leader-dataset"');
  } finally {
    await handle.close();
  }
}

async function targets(opts: RecommendCliOptions): Promise<Target[]> {
  const { stat, readFile } = await import('node:fs/promises');
  let info;
  try {
    info = await stat(opts.input);
  } catch {
    throw new CliError(`--input ${opts.input}: not found`, 2);
  }
  if (info.isFile() && (await isDatasetFile(opts.input))) {
    const { readDataset } = await import('../../dataset/io.ts');
    const data = await readDataset(opts.input);
    return data.records
      .filter((r) => !opts.encounter || r.encounterId === opts.encounter)
      .map((record) => ({ patientId: record.patientId, encounterId: record.encounterId, record }));
  }
  if (!opts.mapping) throw new CliError('--mapping <file> is needed to read FHIR input (a Bundle or a bulk-export folder)', 2);
  const { loadMapping } = await import('../../mapping/load.ts');
  const { recordForEncounter } = await import('../../dataset/records.ts');
  const mapping = await loadMapping(opts.mapping);
  const pick = (history: import('../../history/types.ts').PatientHistory): Target => {
    const n = history.encounters.length;
    if (n === 0) return { patientId: history.patientId, problem: 'the patient has no encounter' };
    const index = opts.encounter ? history.encounters.findIndex((e) => e.id === opts.encounter) : n - 1;
    if (index < 0) return { patientId: history.patientId, problem: `encounter ${opts.encounter} not found` };
    return { patientId: history.patientId, encounterId: history.encounters[index]!.id, record: recordForEncounter(history, index, mapping) };
  };
  if (info.isDirectory()) {
    const { readBulk } = await import('../../fhir/bulk-reader.ts');
    const read = await readBulk(opts.input, { mapping });
    for (const line of read.issues.format()) process.stderr.write(`warning: ${line}\n`);
    return [...read.histories()].map(pick);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(opts.input, 'utf8'));
  } catch (err) {
    throw new CliError(`--input ${opts.input}: not a JSON Bundle (${(err as Error).message})`, 2);
  }
  const type = (json as { resourceType?: unknown } | null)?.resourceType;
  if (type !== 'Bundle' && !Array.isArray(json)) throw new CliError(`--input ${opts.input}: expected a FHIR Bundle, got resourceType ${String(type)}`, 2);
  const { historyFromResources } = await import('../../fhir/bundle-reader.ts');
  const result = historyFromResources(json as import('fhir/r4').Bundle, mapping);
  for (const issue of result.issues) process.stderr.write(`warning: ${opts.input}: ${issue.message}\n`);
  return [pick(result.history)];
}

async function recommend(opts: RecommendCliOptions): Promise<void> {
  const { StudentRuntime } = await import('../../model/runtime/session.ts');
  await asModelCliError(async () => {
    const runtime = await StudentRuntime.load(opts.model);
    try {
      const list = await targets(opts);
      if (list.length === 0) throw new CliError(`--input ${opts.input}: no patient${opts.encounter ? ` with encounter ${opts.encounter}` : ''}`, 2);
      const withRecord = list.filter((t) => t.record);
      const predictions = await runtime.predict(withRecord.map((t) => t.record!));
      const byTarget = new Map(withRecord.map((t, i) => [t, predictions[i]!]));
      const results = list.map((t) => {
        const p = byTarget.get(t);
        const base = { patientId: t.patientId, ...(t.encounterId ? { encounterId: t.encounterId } : {}) };
        if (!p) return { ...base, status: 'no-recommendation' as const, reason: t.problem ?? 'no record', unknown: [] };
        if (p.status === 'no-recommendation') return { ...base, status: p.status, reason: p.reason, unknown: p.unknown };
        return { ...base, status: p.status, recommendations: runtime.rank(p.probabilities, opts.top), unknown: p.unknown };
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ model: runtime.manifest.modelVersion, provider: runtime.provider, results }, null, 2)}\n`);
        return;
      }
      const lines: string[] = [`model ${runtime.manifest.modelVersion} (${runtime.provider})`];
      for (const r of results) {
        lines.push(`patient ${r.patientId}${r.encounterId ? ` encounter ${r.encounterId}` : ''}`);
        if (r.unknown.length > 0) lines.push(`  not in the model vocabulary: ${r.unknown.map((u) => `${u.kind} ${u.code}`).join(', ')}`);
        if (r.status === 'no-recommendation') {
          lines.push(`  no recommendation: ${r.reason}`);
          continue;
        }
        r.recommendations.forEach((x, i) =>
          lines.push(`  ${String(i + 1).padStart(2)}. ${x.label.padEnd(10)} ${x.probability.toFixed(3)}${x.probability >= x.threshold ? ' *' : '  '} ${x.name ?? ''}`.trimEnd()),
        );
      }
      lines.push('(* = at or above the decision threshold)');
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      await runtime.close();
    }
  });
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train the LEADER(S) student on a dataset file and write a model directory (model.onnx + manifest.json)')
    .requiredOption('--dataset <file>', 'dataset file from `leader-cds dataset build`')
    .requiredOption('--out <dir>', 'model directory to write (replaced atomically)')
    .option('--mapping <file>', 'mapping config: label names and orderables go into the manifest')
    .option('--teacher-features <dir>', 'teacher features folder (docs/teacher-features.md), needed when --alpha > 0')
    .option('--alpha <n>', 'weight of the distillation loss', numberOption('--alpha', { min: 0 }), 0)
    .option('--beta <n>', 'weight of the profile alignment loss', numberOption('--beta', { min: 0 }), 0.005)
    .option('--epochs <n>', 'maximum epochs', numberOption('--epochs', { int: true, min: 1 }), 50)
    .option('--patience <n>', 'epochs without a better validation PR-AUC before stopping', numberOption('--patience', { int: true, min: 1 }), 10)
    .option('--batch-size <n>', 'records per step', numberOption('--batch-size', { int: true, min: 1 }), 64)
    .option('--dim <n>', 'embedding and transformer width', numberOption('--dim', { int: true, min: 4 }), 64)
    .option('--wide <none|linear|hidden>', 'linear: add a linear term over current diagnoses/procedures, last and any earlier medications and profile to the logits; hidden: one ReLU layer (256 units) over them first (default none)', wideOption)
    .option('--wide-learning-rate <n>', 'Adam learning rate of the wide tables (default: --learning-rate)', numberOption('--wide-learning-rate', { min: 1e-9 }))
    .option('--wide-l2 <n>', 'L2 penalty on the wide tables: n * sum of squared weights added to the loss (default 0)', numberOption('--wide-l2', { min: 0 }))
    .option('--wide-dropout <rate>', "dropout on the wide 'hidden' branch's units while training (default 0)", numberOption('--wide-dropout', { min: 0, max: 0.95 }))
    .option('--max-visits <n>', 'encounters kept per patient, the current one included', numberOption('--max-visits', { int: true, min: 1 }), 10)
    .option('--max-codes <n>', 'codes kept per encounter and kind', numberOption('--max-codes', { int: true, min: 1 }), 32)
    .option('--learning-rate <n>', 'Adam learning rate', numberOption('--learning-rate', { min: 1e-9 }), 5e-4)
    .option('--seed <n>', 'seed for the split, initialisation and shuffling', numberOption('--seed', { int: true }), 42)
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--model-version <text>', 'model version string for the manifest (default: date + ONNX hash)')
    .option('--created-at <iso>', 'creation time for the manifest (reproducible builds)')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the result as JSON')
    .action(train);
  program
    .command('recommend')
    .description('ranked medication labels with probabilities for patients, from a model directory')
    .requiredOption('--model <dir>', 'model directory (model.onnx + manifest.json)')
    .requiredOption('--input <path>', 'a patient Bundle (JSON), a bulk-export NDJSON folder, or a dataset file')
    .option('--mapping <file>', 'mapping config to read FHIR input (the one the model was trained with)')
    .option('--encounter <id>', 'the encounter to recommend for (default: each patient\'s most recent)')
    .option('--top <n>', 'labels to show per patient', numberOption('--top', { int: true, min: 1 }), 10)
    .option('--json', 'print JSON')
    .action(recommend);
}
