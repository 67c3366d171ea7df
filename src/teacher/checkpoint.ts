// Hugging Face checkpoint folders of the Llama family: config.json + model.safetensors (or a sharded
// model.safetensors.index.json) + tokenizer.json. Read with validation, written atomically.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseHfConfig, toHfConfig, type DecoderConfig } from './config.ts';
import { Decoder } from './decoder.ts';
import { SafetensorsFile, writeFileAtomic, writeSafetensors, type FloatTensor } from './safetensors.ts';
import { loadTokenizer, type TeacherTokenizer } from './tokenizer.ts';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface LoadedCheckpoint {
  dir: string;
  config: DecoderConfig;
  decoder: Decoder;
  tokenizer: TeacherTokenizer;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new CheckpointError(`${file}: cannot read`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

export function readCheckpointConfig(dir: string): DecoderConfig {
  const file = path.join(dir, 'config.json');
  if (!existsSync(file)) throw new CheckpointError(`${dir}: no config.json (not a Hugging Face checkpoint folder)`);
  try {
    return parseHfConfig(readJson(file), file);
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError((err as Error).message);
  }
}

/** Weight files of a checkpoint: the single file, or the shards an index names. */
function openWeights(dir: string): { files: SafetensorsFile[]; byName: Map<string, SafetensorsFile>; source: string } {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  const byName = new Map<string, SafetensorsFile>();
  if (existsSync(single)) {
    const f = SafetensorsFile.read(single);
    for (const n of f.names()) byName.set(n, f);
    return { files: [f], byName, source: single };
  }
  if (existsSync(index)) {
    const idx = readJson(index) as { weight_map?: Record<string, string> };
    if (!idx.weight_map || typeof idx.weight_map !== 'object') throw new CheckpointError(`${index}: no weight_map`);
    const shards = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(idx.weight_map)) {
      let f = shards.get(shard);
      if (!f) {
        const p = path.join(dir, shard);
        if (!existsSync(p)) throw new CheckpointError(`${index}: shard "${shard}" (for tensor "${name}") does not exist`);
        f = SafetensorsFile.read(p);
        shards.set(shard, f);
      }
      if (!f.has(name)) throw new CheckpointError(`${index}: tensor "${name}" is not in shard "${shard}"`);
      byName.set(name, f);
    }
    return { files: [...shards.values()], byName, source: index };
  }
  throw new CheckpointError(`${dir}: no model.safetensors or model.safetensors.index.json (only safetensors weights are read)`);
}

/** Loads a checkpoint folder; a config that does not match the weights or the tokenizer is an error naming both. */
export function loadHfCheckpoint(dir: string): LoadedCheckpoint {
  const config = readCheckpointConfig(dir);
  const { byName, source } = openWeights(dir);
  let decoder: Decoder;
  try {
    decoder = Decoder.fromTensors(config, (n) => byName.get(n)?.tensor(n), [...byName.keys()], source);
  } catch (err) {
    throw new CheckpointError((err as Error).message);
  }
  let tokenizer: TeacherTokenizer;
  try {
    tokenizer = loadTokenizer(dir, config.eosTokenId);
  } catch (err) {
    decoder.dispose();
    throw new CheckpointError((err as Error).message);
  }
  if (tokenizer.vocabSize > config.vocabSize) {
    decoder.dispose();
    throw new CheckpointError(
      `${dir}: the tokenizer has ids up to ${tokenizer.vocabSize - 1} but config.json vocab_size is ${config.vocabSize}: the tokenizer does not fit this model`,
    );
  }
  return { dir, config, decoder, tokenizer };
}

/** Writes config.json and model.safetensors (base weights, LoRA merged when asked). */
export function saveHfCheckpoint(dir: string, decoder: Decoder, options: { merge?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, FloatTensor> = decoder.baseTensors(options.merge ?? false);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(toHfConfig(decoder.config), null, 2) + '\n');
}
