// `teacher train` end to end: base (a local HF checkpoint, or from scratch: tokenizer trained on the
// prompt corpus + causal-LM pre-training), then the paper's classification fine-tuning, then the
// artifact. Every phase checkpoints into the output folder and `resume` picks up where a run stopped.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../dataset/types.ts';
import { saveTeacher, type TeacherManifest } from './artifact.ts';
import { trainBpe } from './bpe-trainer.ts';
import { loadHfCheckpoint, saveHfCheckpoint } from './checkpoint.ts';
import { smallConfig, type DecoderConfig } from './config.ts';
import { Decoder } from './decoder.ts';
import { buildExamples, datasetLabels, type ExampleStats } from './examples.ts';
import { DEFAULT_LORA, type LoraConfig } from './lora.ts';
import { DEFAULT_TEMPLATE, renderPrompt, type PromptTemplate } from './prompt.ts';
import { writeFileAtomic } from './safetensors.ts';
import { loadTokenizer, saveTokenizerFiles, type TeacherTokenizer } from './tokenizer.ts';
import { finetuneClassifier, pretrainLm, type StepInfo, type TrainResult } from './train.ts';
import { loadWordVectors, parseWordVectorSource, seedTokenEmbeddings, tokenWords, WordVectorsError, type SeedReport, type WordVectorSource } from './word-vectors.ts';

export interface ScratchOptions {
  tokenizerVocab: number;
  /** An existing tokenizer folder instead of training one. */
  tokenizerDir?: string;
  model: Partial<Pick<DecoderConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'maxPositions'>>;
  pretrainSteps: number;
  pretrainLearningRate: number;
  /** Seed the token embeddings from pretrained word vectors before pre-training (default none). */
  wordVectors?: WordVectorSource;
  /** A file in the wink-embeddings format instead of the installed package's. */
  wordVectorsFile?: string;
}

export interface TeacherTrainOptions {
  dataset: Dataset;
  datasetFile: string;
  out: string;
  /** Local Hugging Face checkpoint folder; absent = from scratch. */
  checkpoint?: string;
  scratch: ScratchOptions;
  template?: PromptTemplate;
  /** Prompt budget in tokens (EOS included); capped at the model's context. */
  maxTokens: number;
  finetune: 'lora' | 'full';
  lora?: LoraConfig;
  steps: number;
  batchSize: number;
  accumulation: number;
  learningRate: number;
  warmupSteps: number;
  seed: number;
  resume: boolean;
  checkpointEvery: number;
  onStep?: (phase: 'pretrain' | 'finetune', info: StepInfo) => void;
  onInfo?: (message: string) => void;
}

export interface TeacherTrainResult {
  out: string;
  manifest: TeacherManifest;
  examples: ExampleStats;
  pretrain?: TrainResult;
  /** Word-vector seeding of a scratch base (absent when off or resumed from a pre-trained base). */
  wordVectors?: Omit<SeedReport, 'rows'>;
  finetune: TrainResult;
  parameters: number;
  trainableParameters: number;
}

const PRETRAINED_MARK = 'pretrained.json';

export function trainTeacher(o: TeacherTrainOptions): TeacherTrainResult {
  const info = o.onInfo ?? (() => {});
  const template = o.template ?? DEFAULT_TEMPLATE;
  mkdirSync(o.out, { recursive: true });
  const labels = datasetLabels(o.dataset);
  if (labels.length === 0) throw new Error(`${o.datasetFile}: no labels to learn`);
  const { records, names } = o.dataset;
  const wordVectors = parseWordVectorSource(o.scratch.wordVectors ?? 'none', 'scratch.wordVectors');
  if (o.checkpoint && wordVectors !== 'none') throw new WordVectorsError(`word vectors ${wordVectors} seed a teacher trained from scratch; ${o.checkpoint} already has its own embeddings`);

  let decoder: Decoder;
  let tokenizer: TeacherTokenizer;
  let pretrain: TrainResult | undefined;
  let built: ReturnType<typeof buildExamples> | undefined;
  let seeded: SeedReport | undefined;
  let base: string;
  const modelDir = path.join(o.out, 'model');
  if (o.checkpoint) {
    const loaded = loadHfCheckpoint(o.checkpoint);
    decoder = loaded.decoder;
    tokenizer = loaded.tokenizer;
    base = path.resolve(o.checkpoint);
    info(`base: ${base} (${loaded.config.modelType}, ${(decoder.parameterCount() / 1e6).toFixed(2)} M parameters)`);
  } else {
    base = 'model';
    ({ decoder, tokenizer, pretrain, built, seeded } = scratchBase(o, modelDir, template, info));
  }

  const maxTokens = Math.min(o.maxTokens, decoder.config.maxPositions);
  // The scratch path already tokenised the prompts with the same tokenizer and budget.
  const { examples, stats } = built ?? buildExamples(records, names, labels, tokenizer, { template, maxTokens });
  info(`fine-tuning examples: ${stats.examples}, mean ${stats.meanTokens.toFixed(1)} tokens, max ${stats.maxTokens}, truncated ${stats.truncated}`);

  decoder.attachHead(labels.length, o.seed + 1);
  const lora = o.finetune === 'lora' ? (o.lora ?? DEFAULT_LORA) : null;
  if (lora) decoder.attachLora(lora, o.seed + 2);
  const trainable = decoder.trainableVariables().reduce((a, v) => a + v.size, 0);
  info(`fine-tuning (${o.finetune}): ${trainable} trainable parameters, ${labels.length} labels`);
  const statePath = path.join(o.out, 'finetune-state.safetensors');
  const finetune = finetuneClassifier(decoder, examples, {
    steps: o.steps,
    batchSize: o.batchSize,
    accumulation: o.accumulation,
    learningRate: o.learningRate,
    warmupSteps: o.warmupSteps,
    seed: o.seed,
    padId: tokenizer.padId,
    statePath,
    resume: o.resume,
    checkpointEvery: o.checkpointEvery,
    onStep: (s) => o.onStep?.('finetune', s),
  });

  // A fully fine-tuned base is ours now: save it beside the head.
  if (o.finetune === 'full') {
    if (o.checkpoint) {
      saveHfCheckpoint(modelDir, decoder);
      copyTokenizer(o.checkpoint, modelDir);
      base = 'model';
    } else saveHfCheckpoint(modelDir, decoder);
    rmSync(path.join(modelDir, PRETRAINED_MARK), { force: true });
  }
  const manifest: TeacherManifest = {
    format: 'leader-teacher',
    version: 1,
    base,
    baseSource: o.checkpoint ? 'checkpoint' : 'scratch',
    finetune: o.finetune,
    lora,
    labels,
    labelSpace: o.dataset.header.labelSpace,
    template,
    maxTokens,
    hiddenSize: decoder.config.hiddenSize,
    dataset: { file: path.resolve(o.datasetFile), fingerprint: o.dataset.summary.fingerprint, records: records.length },
    training: {
      steps: o.steps,
      batchSize: o.batchSize,
      accumulation: o.accumulation,
      learningRate: o.learningRate,
      warmupSteps: o.warmupSteps,
      seed: o.seed,
      finalLoss: finetune.losses.at(-1) ?? null,
      samplesPerSecond: finetune.samplesPerSecond,
      ...(pretrain ? { pretrainSteps: o.scratch.pretrainSteps, pretrainFinalLoss: pretrain.losses.at(-1) ?? null } : {}),
      ...(wordVectors !== 'none' ? { wordVectors } : {}),
      ...(seeded ? { wordVectorCoverage: seeded.coverage } : {}),
    },
    createdAt: new Date().toISOString(),
  };
  saveTeacher(o.out, decoder, manifest);
  // The finished artifact supersedes the resume states (for full fine-tuning they hold the whole model twice).
  rmSync(statePath, { force: true });
  rmSync(path.join(o.out, 'pretrain-state.safetensors'), { force: true });
  const parameters = decoder.parameterCount();
  decoder.dispose();
  const seeding = seeded ? { tokens: seeded.tokens, exact: seeded.exact, pieces: seeded.pieces, coverage: seeded.coverage } : undefined;
  return { out: o.out, manifest, examples: stats, ...(pretrain ? { pretrain } : {}), ...(seeding ? { wordVectors: seeding } : {}), finetune, parameters, trainableParameters: trainable };
}

function copyTokenizer(from: string, to: string): void {
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    const p = path.join(from, f);
    if (existsSync(p)) writeFileAtomic(path.join(to, f), readFileSync(p));
  }
}

function scratchBase(
  o: TeacherTrainOptions,
  modelDir: string,
  template: PromptTemplate,
  info: (m: string) => void,
): { decoder: Decoder; tokenizer: TeacherTokenizer; pretrain?: TrainResult; built?: ReturnType<typeof buildExamples>; seeded?: SeedReport } {
  const mark = path.join(modelDir, PRETRAINED_MARK);
  if (o.resume && existsSync(mark)) {
    info(`resume: pre-trained base found in ${modelDir}`);
    const loaded = loadHfCheckpoint(modelDir);
    return { decoder: loaded.decoder, tokenizer: loaded.tokenizer };
  }
  const { records, names } = o.dataset;
  // Tokenizer and LM corpus: the prompts themselves, untruncated (the LM learns the language of the prompts).
  const corpus = records.map((r) => renderPrompt(r, names, { template }).text);
  let tokenizer: TeacherTokenizer;
  if (o.scratch.tokenizerDir) {
    tokenizer = loadTokenizer(o.scratch.tokenizerDir);
    copyTokenizer(o.scratch.tokenizerDir, modelDir);
  } else {
    const trained = trainBpe(corpus, { vocabSize: o.scratch.tokenizerVocab });
    saveTokenizerFiles(modelDir, trained.tokenizerJson, trained.tokenizerConfig);
    tokenizer = loadTokenizer(modelDir);
    info(`tokenizer: byte-level BPE, ${tokenizer.vocabSize} tokens (${trained.merges} merges) trained on ${corpus.length} prompts`);
  }
  const config = smallConfig(tokenizer.vocabSize, { ...o.scratch.model, eosTokenId: tokenizer.eosId, padTokenId: tokenizer.padId });
  if (o.scratch.model.hiddenSize && !o.scratch.model.numHeads) config.numHeads = Math.max(1, Math.round(config.hiddenSize / 32));
  config.headDim = config.hiddenSize / config.numHeads;
  if (!Number.isInteger(config.headDim) || config.headDim % 2) throw new Error(`hidden size ${config.hiddenSize} does not split into ${config.numHeads} heads of even width`);
  if (config.numHeads % config.numKvHeads) config.numKvHeads = config.numHeads;
  const decoder = Decoder.random(config, o.seed);
  const seeded = o.scratch.wordVectors === 'wink-sg-100d' ? seedFromWordVectors(decoder, modelDir, o, info) : undefined;
  info(`scratch decoder: ${(decoder.parameterCount() / 1e6).toFixed(2)} M parameters (d ${config.hiddenSize}, ${config.numLayers} layers, ${config.numHeads}/${config.numKvHeads} heads, context ${config.maxPositions})`);
  const maxTokens = Math.min(o.maxTokens, config.maxPositions);
  const built = buildExamples(records, names, datasetLabels(o.dataset), tokenizer, { template, maxTokens });
  const { examples } = built;
  let pretrain: TrainResult | undefined;
  if (o.scratch.pretrainSteps > 0) {
    pretrain = pretrainLm(decoder, examples, {
      steps: o.scratch.pretrainSteps,
      batchSize: o.batchSize,
      accumulation: o.accumulation,
      learningRate: o.scratch.pretrainLearningRate,
      warmupSteps: Math.min(o.warmupSteps, o.scratch.pretrainSteps),
      seed: o.seed,
      padId: tokenizer.padId,
      statePath: path.join(o.out, 'pretrain-state.safetensors'),
      resume: o.resume,
      checkpointEvery: o.checkpointEvery,
      onStep: (s) => o.onStep?.('pretrain', s),
    });
    const l = pretrain.losses;
    if (l.length) info(`pre-training (causal LM): loss ${l[0]!.toFixed(4)} -> ${l.at(-1)!.toFixed(4)} in ${l.length} steps`);
  }
  saveHfCheckpoint(modelDir, decoder);
  writeFileAtomic(mark, JSON.stringify({ steps: o.scratch.pretrainSteps, finalLoss: pretrain?.losses.at(-1) ?? null }) + '\n');
  return { decoder, tokenizer, built, ...(pretrain ? { pretrain } : {}), ...(seeded ? { seeded } : {}) };
}

// Before pre-training, so the LM starts from the vectors rather than overwriting them from noise.
function seedFromWordVectors(decoder: Decoder, modelDir: string, o: TeacherTrainOptions, info: (m: string) => void): SeedReport {
  const file = path.join(modelDir, 'tokenizer.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { model?: { vocab?: unknown }; added_tokens?: Array<{ content?: unknown }> };
  const vocab = json.model?.vocab;
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new Error(`${file}: word vectors need a BPE tokenizer with a model.vocab object`);
  const specials = new Set((json.added_tokens ?? []).map((t) => t.content).filter((c): c is string => typeof c === 'string'));
  const tokens = tokenWords(vocab as Record<string, number>, specials);
  const t0 = performance.now();
  const table = loadWordVectors(tokens, o.scratch.wordVectorsFile);
  const report = seedTokenEmbeddings(decoder, tokens, table, o.seed + 3);
  info(
    `word vectors (${o.scratch.wordVectors}, read in ${((performance.now() - t0) / 1000).toFixed(1)} s): ${report.exact} tokens seeded from whole words, ${report.pieces} word pieces from the mean of their commonest completions; coverage ${(100 * report.coverage).toFixed(1)}% of ${decoder.config.vocabSize} tokens`,
  );
  return report;
}
