// A trained teacher on disk: teacher.json (the manifest, written last: its presence means complete),
// the base as a Hugging Face folder (ours under model/, or a referenced external checkpoint), and
// adapter_model.safetensors with the LoRA tensors (PEFT names) and the head (`score.weight`).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { DatasetRecord } from '../dataset/types.ts';
import { loadHfCheckpoint } from './checkpoint.ts';
import { padBatch, type Decoder } from './decoder.ts';
import { promptIds } from './examples.ts';
import { LoraConfig } from './lora.ts';
import { PromptTemplate, checkTemplate } from './prompt.ts';
import { SafetensorsFile, writeFileAtomic, writeSafetensors, type FloatTensor } from './safetensors.ts';
import type { TeacherTokenizer } from './tokenizer.ts';

export const MANIFEST = 'teacher.json';
export const ADAPTER_FILE = 'adapter_model.safetensors';
export const HEAD_TENSOR = 'base_model.model.score.weight';

export const TeacherManifest = z
  .object({
    format: z.literal('leader-teacher'),
    version: z.literal(1),
    /** Base checkpoint folder: relative to the teacher folder (ours) or absolute (an external checkpoint). */
    base: z.string().min(1),
    baseSource: z.enum(['scratch', 'checkpoint']),
    finetune: z.enum(['lora', 'full']),
    lora: LoraConfig.nullable(),
    labels: z.array(z.string()).min(1),
    labelSpace: z.string(),
    template: PromptTemplate,
    maxTokens: z.number().int().positive(),
    hiddenSize: z.number().int().positive(),
    dataset: z.object({ file: z.string(), fingerprint: z.string(), records: z.number().int() }),
    training: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
  })
  .strict();
export type TeacherManifest = z.infer<typeof TeacherManifest>;

export class TeacherArtifactError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TeacherArtifactError';
  }
}

export interface LoadedTeacher {
  dir: string;
  manifest: TeacherManifest;
  decoder: Decoder;
  tokenizer: TeacherTokenizer;
}

/** Writes adapters + head, then the manifest (last, atomically). */
export function saveTeacher(dir: string, decoder: Decoder, manifest: TeacherManifest): void {
  const tensors: Record<string, FloatTensor> = manifest.finetune === 'lora' ? decoder.adapterTensors() : {};
  tensors[HEAD_TENSOR] = decoder.headTensor();
  writeSafetensors(path.join(dir, ADAPTER_FILE), tensors, { metadata: { format: 'pt' } });
  if (manifest.lora) {
    // PEFT's adapter_config.json, so the adapters are recognisable outside leader-cds.
    const peft = {
      peft_type: 'LORA',
      task_type: 'SEQ_CLS',
      r: manifest.lora.rank,
      lora_alpha: manifest.lora.alpha,
      lora_dropout: manifest.lora.dropout,
      target_modules: manifest.lora.targets,
      bias: 'none',
      modules_to_save: ['score'],
      base_model_name_or_path: manifest.base,
    };
    writeFileAtomic(path.join(dir, 'adapter_config.json'), JSON.stringify(peft, null, 2) + '\n');
  }
  writeFileAtomic(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

export function readManifest(dir: string): TeacherManifest {
  const file = path.join(dir, MANIFEST);
  if (!existsSync(file)) throw new TeacherArtifactError(`${dir}: no ${MANIFEST} (not a trained teacher, or its training did not finish)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TeacherArtifactError(`${file}: invalid JSON (${(err as Error).message})`);
  }
  const parsed = TeacherManifest.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new TeacherArtifactError(`${file}: field "${i.path.join('.')}": ${i.message}`);
  }
  checkTemplate(parsed.data.template, file);
  return parsed.data;
}

export function loadTeacher(dir: string): LoadedTeacher {
  const manifest = readManifest(dir);
  const baseDir = path.isAbsolute(manifest.base) ? manifest.base : path.join(dir, manifest.base);
  const { decoder, tokenizer } = loadHfCheckpoint(baseDir);
  try {
    if (decoder.config.hiddenSize !== manifest.hiddenSize) {
      throw new TeacherArtifactError(`${dir}: the base at ${baseDir} has width ${decoder.config.hiddenSize}, the teacher was trained on width ${manifest.hiddenSize}`);
    }
    const file = path.join(dir, ADAPTER_FILE);
    if (!existsSync(file)) throw new TeacherArtifactError(`${dir}: ${ADAPTER_FILE} is missing`);
    const f = SafetensorsFile.read(file);
    if (manifest.lora) {
      decoder.attachLora(manifest.lora);
      decoder.setAdapterTensors((n) => (f.has(n) ? f.tensor(n) : undefined), file);
    }
    if (!f.has(HEAD_TENSOR)) throw new TeacherArtifactError(`${file}: the head "${HEAD_TENSOR}" is missing`);
    const head = f.tensor(HEAD_TENSOR);
    if (head.shape[0] !== manifest.labels.length) {
      throw new TeacherArtifactError(`${file}: the head scores ${head.shape[0]} labels, ${MANIFEST} lists ${manifest.labels.length}`);
    }
    decoder.setHead(head);
  } catch (err) {
    decoder.dispose();
    throw err;
  }
  return { dir, manifest, decoder, tokenizer };
}

export interface TeacherOutputs {
  /** Sigmoid probabilities [records x labels]. */
  probabilities: Float32Array;
  /** Final-token hidden states [records x hidden] (what distillation reads). */
  pooled?: Float32Array;
}

/** Scores records in batches (prompts sorted by length so padding stays small). */
export function runTeacher(
  teacher: LoadedTeacher,
  records: readonly DatasetRecord[],
  names: Readonly<Record<string, string>>,
  options: { batchSize?: number; pooled?: boolean } = {},
): TeacherOutputs {
  const { decoder, tokenizer, manifest } = teacher;
  const L = manifest.labels.length;
  const D = decoder.config.hiddenSize;
  const bs = options.batchSize ?? 16;
  const ids = records.map((r) => promptIds(r, names, tokenizer, { template: manifest.template, maxTokens: manifest.maxTokens }).ids);
  const order = ids.map((_, i) => i).sort((a, b) => ids[a]!.length - ids[b]!.length);
  const probabilities = new Float32Array(records.length * L);
  const pooled = options.pooled ? new Float32Array(records.length * D) : undefined;
  for (let s = 0; s < order.length; s += bs) {
    const rows = order.slice(s, s + bs);
    const batch = padBatch(rows.map((i) => ids[i]!), tokenizer.padId, 'right');
    const [p, h] = tf.tidy(() => {
      const hidden = decoder.pooled(batch);
      return [tf.sigmoid(tf.matMul(hidden, decoder.head!)), hidden];
    });
    const pv = p!.dataSync();
    const hv = pooled ? h!.dataSync() : undefined;
    rows.forEach((r, k) => {
      probabilities.set(pv.subarray(k * L, (k + 1) * L), r * L);
      if (pooled && hv) pooled.set(hv.subarray(k * D, (k + 1) * D), r * D);
    });
    p!.dispose();
    h!.dispose();
  }
  return pooled ? { probabilities, pooled } : { probabilities };
}
