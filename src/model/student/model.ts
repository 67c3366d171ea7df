// LEADER(S) forward pass in tfjs. The ONNX exporter (src/model/onnx/export.ts) builds the same computation;
// keep the two in step (the golden test checks they agree to 1e-5).
import * as tf from '@tensorflow/tfjs-core';
import type { StudentConfig } from './config.ts';
import type { EncodedBatch, IndexTensor, PackedSets } from './encode.ts';
import { WIDE_TABLES } from './weights.ts';

export type ParamTensors = Map<string, tf.Tensor>;

/** Additive attention bias for padded keys: finite so that a fully padded set gives no NaN (its output is masked out later). */
export { MASK_BIAS } from '../contract.ts';
import { MASK_BIAS } from '../contract.ts';

export interface SetTensors {
  codes: tf.Tensor;
  slots: tf.Tensor;
}

export interface BatchTensors {
  diagnoses: SetTensors;
  procedures: SetTensors;
  medications: SetTensors;
  profile: tf.Tensor;
}

export interface ForwardOutput {
  logits: tf.Tensor2D;
  /** First head layer before its ReLU: the distillation feature. */
  z: tf.Tensor2D;
  /** The profile prompt vector (pseudo encounter-0 medication record). */
  prompt: tf.Tensor2D;
}

function indexTensor(t: IndexTensor): tf.Tensor {
  // Copy: encoder buffers are reused and some backends keep a reference to the array they are given.
  return tf.tensor(t.data.slice(), t.shape, 'int32');
}

function setTensors(p: PackedSets): SetTensors {
  return { codes: indexTensor(p.codes), slots: indexTensor(p.slots) };
}

export function batchTensors(b: EncodedBatch): BatchTensors {
  return {
    diagnoses: setTensors(b.diagnoses),
    procedures: setTensors(b.procedures),
    medications: setTensors(b.medications),
    profile: indexTensor(b.profile),
  };
}

export function disposeBatch(b: BatchTensors): void {
  tf.dispose([b.diagnoses.codes, b.diagnoses.slots, b.procedures.codes, b.procedures.slots, b.medications.codes, b.medications.slots, b.profile]);
}

export class StudentModel {
  constructor(
    readonly config: StudentConfig,
    readonly params: ParamTensors,
  ) {}

  private p(name: string): tf.Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`student parameter ${name} is missing`);
    return t;
  }

  private linear(x: tf.Tensor, name: string, wSuffix = '.w', bSuffix = '.b'): tf.Tensor {
    const w = this.p(name + wSuffix);
    const shape = x.shape;
    const y = tf.add(tf.matMul(tf.reshape(x, [-1, shape[shape.length - 1]!]) as tf.Tensor2D, w as tf.Tensor2D), this.p(name + bSuffix));
    return tf.reshape(y, [...shape.slice(0, -1), w.shape[1]!]);
  }

  private layerNorm(x: tf.Tensor, name: string): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    const norm = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.config.epsilon)));
    return tf.add(tf.mul(norm, this.p(`${name}.g`)), this.p(`${name}.b`));
  }

  /** One pre-LayerNorm transformer block over x [N, S, d] with key mask [N, S] (1 = real). */
  block(prefix: string, x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
    const [n, s, d] = x.shape as [number, number, number];
    const heads = this.config.heads;
    const dh = d / heads;
    const h = this.layerNorm(x, `${prefix}.ln1`);
    // [N, S, d] -> [N, heads, S, dh]
    const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [n, s, heads, dh]), [0, 2, 1, 3]);
    const q = split(this.proj(h, prefix, 'q'));
    const k = split(this.proj(h, prefix, 'k'));
    const v = split(this.proj(h, prefix, 'v'));
    // Batched matMul rather than broadcast multiply + sum: the broadcast form's [N, S, heads, S, dh]
    // products and their gradients (tiles, reductions) cost more than the small products here.
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh));
    scores = tf.add(scores, tf.reshape(tf.mul(tf.sub(mask, 1), -MASK_BIAS), [n, 1, 1, s]));
    const o = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [n, s, d]);
    const x1 = tf.add(x, this.proj(o, prefix, 'o'));
    const h2 = this.layerNorm(x1, `${prefix}.ln2`);
    const ff = this.linear(tf.relu(this.linear(h2, `${prefix}.ff1`)), `${prefix}.ff2`);
    return tf.add(x1, ff);
  }

  private proj(x: tf.Tensor, prefix: string, which: string): tf.Tensor {
    return this.linear(x, prefix, `.w${which}`, `.b${which}`);
  }

  /** Masked mean over axis 1 of x [N, S, d] with mask [N, S]; an all-padding row gives zeros. */
  static maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
    const sum = tf.sum(tf.mul(x, tf.expandDims(mask, -1)), 1);
    return tf.div(sum, tf.expandDims(tf.maximum(tf.sum(mask, 1), 1), -1));
  }

  /** Per-set block + masked mean over packed sets codes [N, C] -> one vector per set [N, d] (row 0, the empty set, gives zeros). */
  setVectors(kind: 'diagnosis' | 'procedure' | 'medication', codes: tf.Tensor): tf.Tensor2D {
    const [n, c] = codes.shape as [number, number];
    const mask = tf.cast(tf.notEqual(codes, 0), 'float32');
    const emb = tf.reshape(tf.gather(this.p(`emb.${kind}`), tf.reshape(codes, [-1])), [n, c, this.config.dim]);
    return StudentModel.maskedMean(this.block(`set.${kind}`, emb, mask), mask) as tf.Tensor2D;
  }

  /**
   * Encounter sequence of one kind: set vectors placed at their slots -> [B, V, d], and the slot mask [B, V].
   * With recency 'position', each slot gets the embedding of its distance to the current encounter (slots are
   * right-aligned, so slot v of V is V-1-v+offset back; offset 1 for medications, which start one encounter back).
   */
  encodeSets(kind: 'diagnosis' | 'procedure' | 'medication', x: SetTensors): { sets: tf.Tensor; visitMask: tf.Tensor } {
    const [b, v] = x.slots.shape as [number, number];
    const vectors = this.setVectors(kind, x.codes);
    let sets = tf.reshape(tf.gather(vectors, tf.reshape(x.slots, [-1])), [b, v, this.config.dim]);
    if (this.config.recency === 'position') {
      const offset = kind === 'medication' ? 1 : 0;
      sets = tf.add(sets, tf.gather(this.p('pos.visit'), tf.range(v - 1 + offset, offset - 1, -1, 'int32')));
    }
    return { sets, visitMask: tf.cast(tf.notEqual(x.slots, 0), 'float32') };
  }

  /** Profile prompt: embedded fields, concatenated, projected to d. */
  prompt(profile: tf.Tensor): tf.Tensor2D {
    const fields = tf.unstack(profile, 1);
    const parts = fields.map((col, i) => tf.gather(this.p(`emb.profile.${i}`), col));
    return this.linear(parts.length === 1 ? parts[0]! : tf.concat(parts, 1), 'prompt') as tf.Tensor2D;
  }

  /** `training`: dropout on the wide 'hidden' branch's units, seeded per step (training only; inference passes none). */
  forward(x: BatchTensors, training?: { wideDropout: number; seed: number }): ForwardOutput {
    const batch = x.profile.shape[0]!;
    const diag = this.encodeSets('diagnosis', x.diagnoses);
    const proc = this.encodeSets('procedure', x.procedures);
    const med = this.encodeSets('medication', x.medications);
    const prompt = this.prompt(x.profile);
    // Medication sequence = [profile prompt, meds of the earlier encounters]; the prompt slot is always present.
    const medSeq = tf.concat([tf.expandDims(prompt, 1), med.sets], 1);
    const medMask = tf.concat([tf.ones([batch, 1]), med.visitMask], 1);
    // The encounter block's weights are shared by the three sequences: run them as one stacked batch
    // (padded to a common length; padding is masked) instead of three calls.
    const seqs: Array<[tf.Tensor, tf.Tensor]> = [
      [diag.sets, diag.visitMask],
      [proc.sets, proc.visitMask],
      [medSeq, medMask],
    ];
    const length = Math.max(...seqs.map(([seq]) => seq.shape[1]!));
    const padTo = (t: tf.Tensor, rank3: boolean) => {
      const extra = length - t.shape[1]!;
      if (extra === 0) return t;
      return tf.pad(t, rank3 ? [[0, 0], [0, extra], [0, 0]] : [[0, 0], [0, extra]]);
    };
    const stackedSeq = tf.concat(seqs.map(([seq]) => padTo(seq, true)), 0);
    const stackedMask = tf.concat(seqs.map(([, mask]) => padTo(mask, false)), 0);
    const pooled = StudentModel.maskedMean(this.block('visit', stackedSeq, stackedMask), stackedMask);
    const cat = tf.concat(tf.split(pooled, 3, 0), 1);
    const z = this.linear(tf.relu(cat), 'head1') as tf.Tensor2D;
    const deep = this.linear(tf.relu(z), 'head2') as tf.Tensor2D;
    const logits = this.config.wide !== 'none' ? (tf.add(deep, this.wide(x, training)) as tf.Tensor2D) : deep;
    return { logits, z, prompt };
  }

  /**
   * Wide term [B, labels]: a linear function of the logistic-regression baseline's features (or, for 'hidden', one
   * ReLU layer over them and its output weights), read from the encoder inputs. Slots are right-aligned, so the last diagnosis/procedure slot is the current encounter and the last
   * medication slot the encounter before it (an empty slot points at the always-empty set row 0 and adds nothing).
   */
  wide(x: BatchTensors, training?: { wideDropout: number; seed: number }): tf.Tensor2D {
    const parts = [
      this.lastSetSum(WIDE_TABLES.diagnosis, x.diagnoses),
      this.lastSetSum(WIDE_TABLES.procedure, x.procedures),
      this.lastSetSum(WIDE_TABLES.lastMedication, x.medications),
      this.anySetRows(WIDE_TABLES.anyMedication, x.medications),
      ...tf.unstack(x.profile, 1).map((col, i) => tf.gather(this.p(WIDE_TABLES.profile(i)), col)),
    ];
    const sum = tf.addN(parts) as tf.Tensor2D;
    if (this.config.wide !== 'hidden') return sum;
    let hidden = tf.relu(tf.add(sum, this.p(WIDE_TABLES.hiddenBias))) as tf.Tensor2D;
    if (training && training.wideDropout > 0) hidden = tf.dropout(hidden, training.wideDropout, undefined, training.seed) as tf.Tensor2D;
    return tf.matMul(hidden, this.p(WIDE_TABLES.output) as tf.Tensor2D);
  }

  /** Sum of `table`'s rows over the codes of the set at each record's last slot; padding codes (0) are masked. */
  private lastSetSum(table: string, x: SetTensors): tf.Tensor2D {
    const [b, v] = x.slots.shape as [number, number];
    const codes = tf.gather(x.codes, tf.reshape(tf.slice(x.slots, [0, v - 1], [b, 1]), [b]));
    const w = this.p(table);
    const rows = tf.reshape(tf.gather(w, tf.reshape(codes, [-1])), [b, codes.shape[1]!, w.shape[1]!]);
    return tf.sum(tf.mul(rows, tf.expandDims(tf.cast(tf.notEqual(codes, 0), 'float32'), -1)), 1) as tf.Tensor2D;
  }

  /**
   * Sum of `table`'s rows over the codes present in any of a record's sets (a multi-hot union, as the baseline's
   * "any earlier medication"): one-hot per set, max over codes, gathered by slots, max over slots, padding column zeroed.
   */
  private anySetRows(table: string, x: SetTensors): tf.Tensor2D {
    const [b, v] = x.slots.shape as [number, number];
    const w = this.p(table);
    const rows = w.shape[0]!;
    const perSet = tf.max(tf.oneHot(x.codes, rows), 1);
    const perRecord = tf.max(tf.reshape(tf.gather(perSet, tf.reshape(x.slots, [-1])), [b, v, rows]), 1);
    const notPadding = tf.concat([tf.zeros([1]), tf.ones([rows - 1])]);
    return tf.matMul(tf.mul(tf.cast(perRecord, 'float32'), notPadding), w as tf.Tensor2D);
  }

  /** Encoding of each record's current medication set (rows of the medication table) for the alignment loss. */
  currentMedicationVector(current: tf.Tensor): tf.Tensor2D {
    return this.setVectors('medication', current);
  }

  /** Probabilities [B * labels], row-major. */
  async predict(x: BatchTensors): Promise<Float32Array> {
    const probs = tf.tidy(() => tf.sigmoid(this.forward(x).logits));
    const data = (await probs.data()) as Float32Array;
    probs.dispose();
    return data;
  }
}
