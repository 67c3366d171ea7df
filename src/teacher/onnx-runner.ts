// The exported teacher on onnxruntime-node: batched scoring and pooled features of dataset records.
import ort from 'onnxruntime-node';
import type { DatasetRecord } from '../dataset/types.ts';
import type { LoadedTeacher } from './artifact.ts';
import { padBatch } from './decoder.ts';
import { promptIds } from './examples.ts';
import { teacherInputs } from './onnx-export.ts';

export interface OnnxTeacherOutputs {
  /** [records x hidden] final-token hidden states. */
  features: Float32Array;
  /** [records x labels] sigmoid probabilities. */
  probabilities: Float32Array;
}

export class OnnxTeacher {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly maxPositions: number,
    readonly hidden: number,
    readonly labels: number,
  ) {}

  static async create(model: Uint8Array, dims: { maxPositions: number; hidden: number; labels: number }, threads?: number): Promise<OnnxTeacher> {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(threads ? { intraOpNumThreads: threads } : {}),
    });
    return new OnnxTeacher(session, dims.maxPositions, dims.hidden, dims.labels);
  }

  /** Runs padded prompt ids; rows keep their order. */
  async run(seqs: readonly (readonly number[])[], padId: number): Promise<OnnxTeacherOutputs> {
    const inp = teacherInputs(padBatch(seqs, padId, 'right'), this.maxPositions);
    const { batch: B, seqLen: T } = inp;
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', inp.input_ids, [B, T]),
      position_ids: new ort.Tensor('int64', inp.position_ids, [B, T]),
      attention_bias: new ort.Tensor('float32', inp.attention_bias, [B, 1, T, T]),
      last_index: new ort.Tensor('int64', inp.last_index, [B]),
    });
    return { features: out.feature!.data as Float32Array, probabilities: out.probabilities!.data as Float32Array };
  }

  /**
   * Scores records in batches (sorted by prompt length so padding stays small), results in record order. Only the
   * teacher's prompt side is read (its weights are in the graph), so a folder opened without tfjs will do.
   */
  async runRecords(
    teacher: Pick<LoadedTeacher, 'tokenizer' | 'manifest'>,
    records: readonly DatasetRecord[],
    names: Readonly<Record<string, string>>,
    options: { batchSize?: number; onBatch?: (done: number, total: number) => Promise<void> | void } = {},
  ): Promise<OnnxTeacherOutputs> {
    const bs = options.batchSize ?? 32;
    const { tokenizer, manifest } = teacher;
    const ids = records.map((r) => promptIds(r, names, tokenizer, { template: manifest.template, maxTokens: manifest.maxTokens }).ids);
    const order = ids.map((_, i) => i).sort((a, b) => ids[a]!.length - ids[b]!.length);
    const features = new Float32Array(records.length * this.hidden);
    const probabilities = new Float32Array(records.length * this.labels);
    for (let s = 0; s < order.length; s += bs) {
      const rows = order.slice(s, s + bs);
      const out = await this.run(rows.map((i) => ids[i]!), tokenizer.padId);
      rows.forEach((r, k) => {
        features.set(out.features.subarray(k * this.hidden, (k + 1) * this.hidden), r * this.hidden);
        probabilities.set(out.probabilities.subarray(k * this.labels, (k + 1) * this.labels), r * this.labels);
      });
      await options.onBatch?.(Math.min(order.length, s + bs), order.length);
    }
    for (let i = 0; i < features.length; i++) {
      if (!Number.isFinite(features[i]!)) throw new Error(`teacher features: record ${records[Math.floor(i / this.hidden)]!.encounterId} produced a non-finite value`);
    }
    return { features, probabilities };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
