// ONNX export of the fine-tuned teacher (base + merged LoRA + head), built with the project's GraphBuilder
// (src/model/onnx/graph-builder.ts, opset 17). Positions, the additive attention mask and the pooled
// row index are inputs computed on the host (teacherInputs), exactly as the tfjs forward computes them,
// so the graph holds only the network.
import { GraphBuilder, int, ints } from '../model/onnx/graph-builder.ts';
import type { Decoder, TokenBatch } from './decoder.ts';
import { lastTokenIndex } from './decoder.ts';

export const TEACHER_INPUTS = ['input_ids', 'position_ids', 'attention_bias', 'last_index'] as const;
export const TEACHER_OUTPUTS = ['feature', 'logits', 'probabilities'] as const;

const NEG = -1e9;

export function exportTeacherOnnx(decoder: Decoder, docString = 'LEADER(T) teacher'): Uint8Array {
  if (!decoder.head) throw new Error('ONNX export: the teacher has no classification head');
  const c = decoder.config;
  const w = decoder.exportTensors();
  const g = new GraphBuilder();
  const tensor = (name: string): string => {
    const t = w.get(name);
    if (!t) throw new Error(`ONNX export: weight ${name} is missing`);
    return g.floatTensor(name, t.data, t.shape);
  };
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const pos = g.input('position_ids', 'int64', ['batch', 'seq']);
  const bias = g.input('attention_bias', 'float', ['batch', 1, 'seq', 'seq']);
  const last = g.input('last_index', 'int64', ['batch']);

  const { cos, sin } = decoder.ropeTables();
  const cosT = g.op('Unsqueeze', [g.op('Gather', [g.floatTensor('rope.cos', cos, [c.maxPositions, c.headDim]), pos], { axis: int(0) }), g.int64([1])]);
  const sinT = g.op('Unsqueeze', [g.op('Gather', [g.floatTensor('rope.sin', sin, [c.maxPositions, c.headDim]), pos], { axis: int(0) }), g.int64([1])]);

  const rmsNorm = (x: string, weight: string) => {
    const variance = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: ints([-1]), keepdims: int(1) });
    return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [variance, g.scalar(c.rmsNormEps)])])]), tensor(weight)]);
  };
  const linear = (x: string, module: string) => {
    const y = g.op('MatMul', [x, tensor(`${module}.weight`)]);
    return w.has(`${module}.bias`) ? g.op('Add', [y, tensor(`${module}.bias`)]) : y;
  };
  const half = c.headDim / 2;
  const rope = (x: string) => {
    const x1 = g.op('Slice', [x, g.int64([0]), g.int64([half]), g.int64([3])]);
    const x2 = g.op('Slice', [x, g.int64([half]), g.int64([c.headDim]), g.int64([3])]);
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: int(3) });
    return g.op('Add', [g.op('Mul', [x, cosT]), g.op('Mul', [rotated, sinT])]);
  };
  // [B, T, n*hd] -> [B, n, T, hd]
  const heads = (x: string, n: number) => g.op('Transpose', [g.op('Reshape', [x, g.int64([0, 0, n, c.headDim])])], { perm: ints([0, 2, 1, 3]) });
  const groups = c.numHeads / c.numKvHeads;
  const repeatKv = (x: string) =>
    groups === 1
      ? x
      : g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [x, g.int64([2])]), g.int64([1, 1, groups, 1, 1])]), g.int64([0, c.numHeads, -1, c.headDim])]);

  let x = g.op('Gather', [tensor('model.embed_tokens.weight'), ids], { axis: int(0) });
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`);
    const q = rope(heads(linear(h, `${p}.self_attn.q_proj`), c.numHeads));
    const k = repeatKv(rope(heads(linear(h, `${p}.self_attn.k_proj`), c.numKvHeads)));
    const v = repeatKv(heads(linear(h, `${p}.self_attn.v_proj`), c.numKvHeads));
    const scores = g.op('Add', [
      g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: ints([0, 1, 3, 2]) })]), g.scalar(1 / Math.sqrt(c.headDim))]),
      bias,
    ]);
    const ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: int(-1) }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: ints([0, 2, 1, 3]) }), g.int64([0, 0, c.numHeads * c.headDim])]);
    x = g.op('Add', [x, linear(merged, `${p}.self_attn.o_proj`)]);
    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const gate = linear(h2, `${p}.mlp.gate_proj`);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(h2, `${p}.mlp.up_proj`)]);
    x = g.op('Add', [x, linear(act, `${p}.mlp.down_proj`)]);
  }
  const hidden = rmsNorm(x, 'model.norm.weight');
  const flat = g.op('Reshape', [hidden, g.int64([-1, c.hiddenSize])]);
  g.op('Gather', [flat, last], { axis: int(0) }, 'feature');
  g.op('MatMul', ['feature', tensor('score.weight')], {}, 'logits');
  g.op('Sigmoid', ['logits'], {}, 'probabilities');
  g.output('feature', ['batch', c.hiddenSize]);
  g.output('logits', ['batch', decoder.numLabels]);
  g.output('probabilities', ['batch', decoder.numLabels]);
  return g.build('leader_teacher', docString);
}

export interface TeacherOnnxInputs {
  input_ids: BigInt64Array;
  position_ids: BigInt64Array;
  attention_bias: Float32Array;
  last_index: BigInt64Array;
  batch: number;
  seqLen: number;
}

/** Host-side inputs of the exported graph for a padded batch (same rules as Decoder.hidden). */
export function teacherInputs(b: TokenBatch, maxPositions: number): TeacherOnnxInputs {
  const { batch: B, seqLen: T } = b;
  const pos = new BigInt64Array(B * T);
  for (let r = 0; r < B; r++) {
    let n = 0;
    for (let t = 0; t < T; t++) {
      const real = b.mask[r * T + t] ? 1 : 0;
      pos[r * T + t] = BigInt(Math.max(0, n - 1 + real));
      n += real;
    }
    if (n > maxPositions) throw new Error(`sequence of ${n} tokens exceeds the model's context of ${maxPositions} positions`);
  }
  const bias = new Float32Array(B * T * T);
  for (let r = 0; r < B; r++)
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) bias[(r * T + i) * T + j] = j <= i && b.mask[r * T + j] ? 0 : NEG;
  const last = BigInt64Array.from(lastTokenIndex(b).map((t, r) => BigInt(r * T + t)));
  return { input_ids: BigInt64Array.from(b.ids, (v) => BigInt(v)), position_ids: pos, attention_bias: bias, last_index: last, batch: B, seqLen: T };
}
