// ONNX export of LEADER(S): the same computation as src/model/student/model.ts, built node by node.
// Inputs are the encoder's int64 index tensors (src/model/student/encode.ts): per kind the packed code sets
// [sets, codes] and the slot index [batch, visits]; all dimensions but the profile width are dynamic.
// Masks are derived inside the graph from index != 0.
import type { StudentConfig } from '../student/config.ts';
import { MASK_BIAS } from '../contract.ts';
import { SET_KINDS, WIDE_TABLES, type WeightMap } from '../student/weights.ts';
import { float, GraphBuilder, int, ints } from './graph-builder.ts';

// Names, signatures and constants shared with the runtime live in the dependency-free contract.
export { INPUT_NAMES, OUTPUT_NAMES, inputSpecs } from '../contract.ts';

export interface ExportInfo {
  config: StudentConfig;
  labels: number;
  profileFields: number;
  docString?: string;
}

export function exportStudentOnnx(weights: WeightMap, info: ExportInfo): Uint8Array {
  const g = new GraphBuilder();
  const { config } = info;
  const d = config.dim;
  const heads = config.heads;
  const dh = d / heads;
  const w = (name: string): string => {
    const t = weights.get(name);
    if (!t) throw new Error(`ONNX export: weight ${name} is missing`);
    return g.floatTensor(name, t.data, t.shape);
  };
  const cached = new Map<string, string>();
  const W = (name: string) => {
    let n = cached.get(name);
    if (!n) cached.set(name, (n = w(name)));
    return n;
  };
  const linear = (x: string, wName: string, bName: string) => g.op('Add', [g.op('MatMul', [x, W(wName)]), W(bName)]);
  const layerNorm = (x: string, prefix: string) =>
    g.op('LayerNormalization', [x, W(`${prefix}.g`), W(`${prefix}.b`)], { axis: int(-1), epsilon: float(config.epsilon) });

  /** Pre-LN transformer block over x [N, S, d] with key mask [N, S]. */
  const block = (prefix: string, x: string, mask: string): string => {
    const lead = 1;
    const zeros = [0, 0];
    const h = layerNorm(x, `${prefix}.ln1`);
    const splitHeads = (which: string) => g.op('Reshape', [linear(h, `${prefix}.w${which}`, `${prefix}.b${which}`), g.int64([...zeros, heads, dh])]);
    // [..., S, H, dh] -> q,v: [..., H, S, dh]; k: [..., H, dh, S]
    const perm = { q: [0, 2, 1, 3], kT: [0, 2, 3, 1] };
    const q = g.op('Transpose', [splitHeads('q')], { perm: ints(perm.q) });
    const kT = g.op('Transpose', [splitHeads('k')], { perm: ints(perm.kT) });
    const v = g.op('Transpose', [splitHeads('v')], { perm: ints(perm.q) });
    const scores = g.op('Mul', [g.op('MatMul', [q, kT]), g.scalar(1 / Math.sqrt(dh))]);
    const bias = g.op('Mul', [g.op('Sub', [mask, g.scalar(1)]), g.scalar(-MASK_BIAS)]);
    const biasB = g.op('Unsqueeze', [bias, g.int64([lead, lead + 1])]);
    const attn = g.op('Softmax', [g.op('Add', [scores, biasB])], { axis: int(-1) });
    const o = g.op('Transpose', [g.op('MatMul', [attn, v])], { perm: ints(perm.q) });
    const merged = g.op('Reshape', [o, g.int64([...zeros, d])]);
    const x1 = g.op('Add', [x, linear(merged, `${prefix}.wo`, `${prefix}.bo`)]);
    const h2 = layerNorm(x1, `${prefix}.ln2`);
    const ff = linear(g.op('Relu', [linear(h2, `${prefix}.ff1.w`, `${prefix}.ff1.b`)]), `${prefix}.ff2.w`, `${prefix}.ff2.b`);
    return g.op('Add', [x1, ff]);
  };

  /** Masked mean over `axis` of x [..., S, d] with mask [..., S]; an all-padding row gives zeros. */
  const maskedMean = (x: string, mask: string, axis: number): string => {
    const sum = g.op('ReduceSum', [g.op('Mul', [x, g.op('Unsqueeze', [mask, g.int64([-1])])]), g.int64([axis])], { keepdims: int(0) });
    const count = g.op('Max', [g.op('ReduceSum', [mask, g.int64([axis])], { keepdims: int(1) }), g.scalar(1)]);
    return g.op('Div', [sum, count]);
  };

  const encodeSets = (kind: (typeof SET_KINDS)[number]) => {
    const codes = g.input(`${kind}_codes`, 'int64', [`${kind}_sets`, `${kind}_width`]);
    const slots = g.input(`${kind}_slots`, 'int64', ['batch', kind === 'medication' ? 'history' : 'visits']);
    const mask = g.op('Cast', [g.op('Not', [g.op('Equal', [codes, g.int64([0], true)])])], { to: int(1) });
    const emb = g.op('Gather', [W(`emb.${kind}`), codes]);
    const vectors = maskedMean(block(`set.${kind}`, emb, mask), mask, 1);
    let sets = g.op('Gather', [vectors, slots]);
    if (config.recency === 'position') {
      // Distance of each right-aligned slot to the current encounter = slots after it (+1 for medications): a reverse
      // CumSum over ones [B, V]. (Range over Shape(slots) gives an empty tensor under onnxruntime's graph optimisations.)
      const ones = g.op('Add', [g.op('Mul', [slots, g.int64([0], true)]), g.int64([1], true)]);
      const distances = g.op('CumSum', [ones, g.int64([1], true)], { reverse: int(1), exclusive: int(kind === 'medication' ? 0 : 1) });
      sets = g.op('Add', [sets, g.op('Gather', [W('pos.visit'), distances])]);
    }
    const visitMask = g.op('Cast', [g.op('Not', [g.op('Equal', [slots, g.int64([0], true)])])], { to: int(1) });
    return { sets, visitMask, codes, slots };
  };

  // Wide term (config.wide 'linear'), as StudentModel.wide: sums of table rows over the current diagnosis and
  // procedure sets and the last earlier medication set (the right-aligned last slot), over the union of all earlier
  // medication sets, and one row per profile field.
  const lastSetSum = (table: string, set: { codes: string; slots: string }): string => {
    const codes = g.op('Gather', [set.codes, g.op('Gather', [set.slots, g.int64([-1], true)], { axis: int(1) })]);
    const mask = g.op('Cast', [g.op('Not', [g.op('Equal', [codes, g.int64([0], true)])])], { to: int(1) });
    const rows = g.op('Mul', [g.op('Gather', [W(table), codes]), g.op('Unsqueeze', [mask, g.int64([-1])])]);
    return g.op('ReduceSum', [rows, g.int64([1])], { keepdims: int(0) });
  };
  const anySetRows = (table: string, set: { codes: string; slots: string }): string => {
    const rows = weights.get(table)?.shape[0];
    if (rows === undefined) throw new Error(`ONNX export: weight ${table} is missing`);
    // One-hot by comparison with 0..rows-1 ([sets, codes, rows]), then max over codes and over the record's slots.
    const oneHot = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [set.codes, g.int64([-1])]), g.int64(Array.from({ length: rows }, (_, i) => i))])], {
      to: int(1),
    });
    const perSet = g.op('ReduceMax', [oneHot], { axes: ints([1]), keepdims: int(0) });
    const perRecord = g.op('ReduceMax', [g.op('Gather', [perSet, set.slots])], { axes: ints([1]), keepdims: int(0) });
    const notPadding = g.floatTensor(`${table}.not_padding`, Float32Array.from({ length: rows }, (_, i) => (i === 0 ? 0 : 1)), [rows]);
    return g.op('MatMul', [g.op('Mul', [perRecord, notPadding]), W(table)]);
  };

  const diag = encodeSets('diagnosis');
  const proc = encodeSets('procedure');
  const med = encodeSets('medication');
  const profile = g.input('profile', 'int64', ['batch', info.profileFields]);

  const fields = Array.from({ length: info.profileFields }, (_, i) =>
    g.op('Gather', [W(`emb.profile.${i}`), g.op('Gather', [profile, g.int64([i], true)], { axis: int(1) })]),
  );
  const promptIn = fields.length === 1 ? fields[0]! : g.op('Concat', fields, { axis: int(1) });
  const prompt = linear(promptIn, 'prompt.w', 'prompt.b');
  const medSeq = g.op('Concat', [g.op('Unsqueeze', [prompt, g.int64([1])]), med.sets], { axis: int(1) });
  // A [B, 1] column of ones with the dynamic batch size: the prompt slot is always present.
  const ones = g.op('Add', [g.op('Mul', [g.op('Slice', [med.visitMask, g.int64([0]), g.int64([1]), g.int64([1])]), g.scalar(0)]), g.scalar(1)]);
  const medMask = g.op('Concat', [ones, med.visitMask], { axis: int(1) });

  const pooled = [
    [diag.sets, diag.visitMask],
    [proc.sets, proc.visitMask],
    [medSeq, medMask],
  ].map(([seq, mask]) => maskedMean(block('visit', seq!, mask!), mask!, 1));
  const cat = g.op('Concat', pooled, { axis: int(1) });
  g.op('Add', [g.op('MatMul', [g.op('Relu', [cat]), W('head1.w')]), W('head1.b')], {}, 'feature');
  const deep = linear(g.op('Relu', ['feature']), 'head2.w', 'head2.b');
  let logits = deep;
  if (config.wide !== 'none') {
    const parts = [
      lastSetSum(WIDE_TABLES.diagnosis, diag),
      lastSetSum(WIDE_TABLES.procedure, proc),
      lastSetSum(WIDE_TABLES.lastMedication, med),
      anySetRows(WIDE_TABLES.anyMedication, med),
      ...Array.from({ length: info.profileFields }, (_, i) =>
        g.op('Gather', [W(WIDE_TABLES.profile(i)), g.op('Gather', [profile, g.int64([i], true)], { axis: int(1) })]),
      ),
    ];
    const sum = parts.reduce((acc, part) => g.op('Add', [acc, part]));
    // 'hidden': one ReLU layer over the summed rows, then its output weights (as StudentModel.wide).
    const term = config.wide === 'hidden' ? g.op('MatMul', [g.op('Relu', [g.op('Add', [sum, W(WIDE_TABLES.hiddenBias)])]), W(WIDE_TABLES.output)]) : sum;
    logits = g.op('Add', [deep, term]);
  }
  g.op('Sigmoid', [logits], {}, 'probabilities');
  g.output('probabilities', ['batch', info.labels]);
  g.output('feature', ['batch', config.hidden]);
  return g.build('leader_student', info.docString ?? 'LEADER(S) medication recommendation student');
}
