// The teacher's network: a Llama-family decoder (RMSNorm, rotary positions, grouped-query attention,
// SwiGLU) built from tfjs-core ops, with LoRA adapters and the paper's output adaptation (final-token
// hidden state -> bias-free linear -> one logit per label). Tensors keep Hugging Face names; projection
// weights are held as [in, out] (HF stores [out, in]) so every projection is a plain matMul.
import * as tf from '@tensorflow/tfjs-core';
import type { DecoderConfig } from './config.ts';
import { loraScale, type LoraConfig, type LoraTarget } from './lora.ts';
import { applyRope, ropeTables } from './rope.ts';
import type { FloatTensor } from './safetensors.ts';

export class DecoderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecoderError';
  }
}

/** Token ids padded to one length; mask 1 = real token. Left or right padding both work. */
export interface TokenBatch {
  ids: Int32Array;
  mask: Int32Array;
  batch: number;
  seqLen: number;
}

export function padBatch(seqs: readonly (readonly number[])[], padId: number, side: 'left' | 'right' = 'right'): TokenBatch {
  const seqLen = Math.max(1, ...seqs.map((s) => s.length));
  const ids = new Int32Array(seqs.length * seqLen).fill(padId);
  const mask = new Int32Array(seqs.length * seqLen);
  seqs.forEach((s, b) => {
    const start = side === 'left' ? seqLen - s.length : 0;
    for (let t = 0; t < s.length; t++) {
      ids[b * seqLen + start + t] = s[t]!;
      mask[b * seqLen + start + t] = 1;
    }
  });
  return { ids, mask, batch: seqs.length, seqLen };
}

/** Index of the last real token of each row (the pooled position). */
export function lastTokenIndex(batch: TokenBatch): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch.batch; b++) {
    let last = -1;
    for (let t = 0; t < batch.seqLen; t++) if (batch.mask[b * batch.seqLen + t]) last = t;
    if (last < 0) throw new DecoderError(`batch row ${b} has no tokens`);
    out.push(last);
  }
  return out;
}

export interface ForwardOptions {
  /** Enables LoRA dropout. */
  training?: boolean;
  /** Seed of the dropout masks, so that a resumed run draws the same masks. */
  seed?: number;
}

interface Adapter {
  a: tf.Variable; // [in, rank]
  b: tf.Variable; // [rank, out]
}

const PROJ_PARENT: Record<LoraTarget, 'self_attn' | 'mlp'> = {
  q_proj: 'self_attn',
  k_proj: 'self_attn',
  v_proj: 'self_attn',
  o_proj: 'self_attn',
  gate_proj: 'mlp',
  up_proj: 'mlp',
  down_proj: 'mlp',
};

const NEG = -1e9;

/** HF tensor names and shapes (HF layout) a checkpoint of this config must hold. */
export function expectedTensors(c: DecoderConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const D = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, D]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [D]);
    m.set(`${p}.self_attn.q_proj.weight`, [q, D]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, D]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, D]);
    if (c.qkvBias) {
      m.set(`${p}.self_attn.q_proj.bias`, [q]);
      m.set(`${p}.self_attn.k_proj.bias`, [kv]);
      m.set(`${p}.self_attn.v_proj.bias`, [kv]);
    }
    m.set(`${p}.self_attn.o_proj.weight`, [D, q]);
    m.set(`${p}.post_attention_layernorm.weight`, [D]);
    m.set(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, D]);
    m.set(`${p}.mlp.up_proj.weight`, [c.intermediateSize, D]);
    m.set(`${p}.mlp.down_proj.weight`, [D, c.intermediateSize]);
  }
  m.set('model.norm.weight', [D]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, D]);
  return m;
}

/** Weights HF stores [out, in] that we hold transposed. */
function isTransposed(name: string): boolean {
  return /_proj\.weight$/.test(name) || name === 'lm_head.weight' || name === 'score.weight';
}

function transpose2d(t: FloatTensor): FloatTensor {
  const [r, c] = t.shape as [number, number];
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j]!;
  return { shape: [c, r], data: out };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export class Decoder {
  /** Base weights by HF name. */
  readonly params = new Map<string, tf.Variable>();
  private readonly adapters = new Map<string, Adapter>();
  private lora: LoraConfig | null = null;
  private headVar: tf.Variable | null = null;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;

  private constructor(readonly config: DecoderConfig) {
    const tables = ropeTables(config.headDim, config.ropeTheta, config.maxPositions);
    this.cos = tables.cos;
    this.sin = tables.sin;
  }

  /** Fresh weights: normal(0, 0.02) projections and embeddings, unit norms, zero biases (HF's init). */
  static random(config: DecoderConfig, seed = 0): Decoder {
    const d = new Decoder(config);
    let k = 0;
    for (const [name, shape] of expectedTensors(config)) {
      const s = isTransposed(name) ? [shape[1]!, shape[0]!] : shape;
      const init = name.endsWith('norm.weight')
        ? tf.ones(s)
        : name.endsWith('.bias')
          ? tf.zeros(s)
          : tf.randomNormal(s, 0, 0.02, 'float32', seed * 7919 + k++);
      d.params.set(name, tf.variable(init, true, `${name}#${d.uid}`));
      init.dispose();
    }
    return d;
  }

  /**
   * Weights from HF-named tensors, validated against the config: a missing tensor, a wrong shape or a
   * tensor the config does not account for (more layers, another width) is an error naming it.
   */
  static fromTensors(config: DecoderConfig, get: (name: string) => FloatTensor | undefined, names: readonly string[], source: string): Decoder {
    const expected = expectedTensors(config);
    const ignorable = (n: string) => n.endsWith('rotary_emb.inv_freq') || (config.tieWordEmbeddings && n === 'lm_head.weight');
    for (const n of names) {
      if (!expected.has(n) && !ignorable(n)) {
        throw new DecoderError(`${source}: tensor "${n}" is not part of a ${config.modelType} model with the given config.json (${describe(config)})`);
      }
    }
    const d = new Decoder(config);
    for (const [name, shape] of expected) {
      const t = get(name);
      if (!t) {
        d.dispose();
        throw new DecoderError(`${source}: tensor "${name}" is missing (expected shape [${shape.join(', ')}] from config.json: ${describe(config)})`);
      }
      if (!sameShape(t.shape, shape)) {
        d.dispose();
        throw new DecoderError(
          `${source}: tensor "${name}" has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}] (${describe(config)})`,
        );
      }
      const v = isTransposed(name) ? transpose2d(t) : t;
      d.params.set(name, tf.variable(tf.tensor(v.data, v.shape, 'float32'), true, `${name}#${d.uid}`));
    }
    return d;
  }

  private readonly uid = Math.random().toString(36).slice(2, 10);

  get loraConfig(): LoraConfig | null {
    return this.lora;
  }

  get head(): tf.Variable | null {
    return this.headVar;
  }

  get numLabels(): number {
    return this.headVar?.shape[1] ?? 0;
  }

  /** Adds the classification head (HF name `score.weight`), normal(0, 0.02). */
  attachHead(numLabels: number, seed = 1): void {
    this.headVar?.dispose();
    this.headVar = tf.variable(tf.randomNormal([this.config.hiddenSize, numLabels], 0, 0.02, 'float32', seed), true, `score.weight#${this.uid}`);
  }

  setHead(t: FloatTensor): void {
    if (t.shape.length !== 2 || t.shape[1] !== this.config.hiddenSize) {
      throw new DecoderError(`head "score.weight" has shape [${t.shape.join(', ')}], expected [labels, ${this.config.hiddenSize}]`);
    }
    const v = transpose2d(t);
    this.headVar?.dispose();
    this.headVar = tf.variable(tf.tensor(v.data, v.shape, 'float32'), true, `score.weight#${this.uid}`);
  }

  /** Adds LoRA adapters (A: PEFT's kaiming-uniform, B: zeros, so the model is unchanged) and freezes the base. */
  attachLora(cfg: LoraConfig, seed = 2): void {
    this.disposeAdapters();
    this.lora = cfg;
    let k = 0;
    for (let i = 0; i < this.config.numLayers; i++) {
      for (const target of cfg.targets) {
        const module = `model.layers.${i}.${PROJ_PARENT[target]}.${target}`;
        const w = this.param(`${module}.weight`);
        const [inDim, outDim] = w.shape as [number, number];
        const bound = 1 / Math.sqrt(inDim);
        const a = tf.variable(tf.randomUniform([inDim, cfg.rank], -bound, bound, 'float32', seed * 104729 + k++), true, `${module}.lora_A#${this.uid}`);
        const b = tf.variable(tf.zeros([cfg.rank, outDim]), true, `${module}.lora_B#${this.uid}`);
        this.adapters.set(module, { a, b });
      }
    }
    this.setBaseTrainable(false);
  }

  setBaseTrainable(trainable: boolean): void {
    for (const v of this.params.values()) v.trainable = trainable;
  }

  /** Adapter tensors in PEFT naming and layout (lora_A [r, in], lora_B [out, r]). */
  adapterTensors(): Record<string, FloatTensor> {
    const out: Record<string, FloatTensor> = {};
    for (const [module, { a, b }] of this.adapters) {
      out[`base_model.model.${module}.lora_A.weight`] = transpose2d(toFloat(a));
      out[`base_model.model.${module}.lora_B.weight`] = transpose2d(toFloat(b));
    }
    return out;
  }

  setAdapterTensors(get: (name: string) => FloatTensor | undefined, source: string): void {
    if (!this.lora) throw new DecoderError('attach LoRA before loading adapter weights');
    for (const [module, ad] of this.adapters) {
      for (const [key, v] of [['lora_A', ad.a], ['lora_B', ad.b]] as const) {
        const name = `base_model.model.${module}.${key}.weight`;
        const t = get(name);
        const want = [v.shape[1]!, v.shape[0]!];
        if (!t) throw new DecoderError(`${source}: adapter tensor "${name}" is missing`);
        if (!sameShape(t.shape, want)) {
          throw new DecoderError(`${source}: adapter tensor "${name}" has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
        }
        const tt = transpose2d(t);
        // Inside tidy: assign keeps the data, the temporary tensor handle is released.
        tf.tidy(() => v.assign(tf.tensor(tt.data, tt.shape, 'float32')));
      }
    }
  }

  /** What training updates: adapters and head when LoRA is attached, else every base weight and the head. */
  trainableVariables(): tf.Variable[] {
    const vars: tf.Variable[] = [];
    if (this.lora) for (const { a, b } of this.adapters.values()) vars.push(a, b);
    else vars.push(...[...this.params.values()].filter((v) => v.trainable));
    if (this.headVar) vars.push(this.headVar);
    return vars;
  }

  /** Base weights in HF layout; with `merge`, each adapted projection becomes W + (alpha/r) A B. */
  baseTensors(merge = false): Record<string, FloatTensor> {
    const out: Record<string, FloatTensor> = {};
    for (const [name, v] of this.params) {
      let t: FloatTensor;
      const module = name.replace(/\.weight$/, '');
      const ad = merge && this.lora ? this.adapters.get(module) : undefined;
      if (ad) {
        const scale = loraScale(this.lora!);
        const merged = tf.tidy(() => tf.add(v, tf.mul(tf.matMul(ad.a, ad.b), scale)));
        t = toFloat(merged);
        merged.dispose();
      } else t = toFloat(v);
      out[name] = isTransposed(name) ? transpose2d(t) : t;
    }
    return out;
  }

  /** Base weights in this class's layout ([in, out] projections), adapters merged: what an exporter embeds. */
  exportTensors(): Map<string, FloatTensor> {
    const out = new Map<string, FloatTensor>();
    const scale = this.lora ? loraScale(this.lora) : 0;
    for (const [name, v] of this.params) {
      const ad = this.adapters.get(name.replace(/\.weight$/, ''));
      if (ad) {
        const merged = tf.tidy(() => tf.add(v, tf.mul(tf.matMul(ad.a, ad.b), scale)));
        out.set(name, toFloat(merged));
        merged.dispose();
      } else out.set(name, toFloat(v));
    }
    if (this.headVar) out.set('score.weight', toFloat(this.headVar));
    return out;
  }

  ropeTables(): { cos: Float32Array; sin: Float32Array } {
    return { cos: this.cos, sin: this.sin };
  }

  headTensor(): FloatTensor {
    if (!this.headVar) throw new DecoderError('the model has no classification head');
    return transpose2d(toFloat(this.headVar));
  }

  /** Replaces each adapted projection by its merged weight and drops the adapters (for export). */
  mergeAdapters(): void {
    if (!this.lora) return;
    const scale = loraScale(this.lora);
    for (const [module, ad] of this.adapters) {
      const w = this.param(`${module}.weight`);
      tf.tidy(() => w.assign(tf.add(w, tf.mul(tf.matMul(ad.a, ad.b), scale))));
    }
    this.disposeAdapters();
    this.lora = null;
  }

  /** Last-layer hidden states after the final norm, [B*T, D]. */
  hidden(batch: TokenBatch, opts: ForwardOptions = {}): tf.Tensor2D {
    const c = this.config;
    const { batch: B, seqLen: T } = batch;
    if (batch.ids.length !== B * T || batch.mask.length !== B * T) throw new DecoderError('token batch ids/mask do not match batch x seqLen');
    for (let i = 0; i < batch.ids.length; i++) {
      const id = batch.ids[i]!;
      if (id < 0 || id >= c.vocabSize) throw new DecoderError(`token id ${id} is outside the vocabulary (size ${c.vocabSize})`);
    }
    // Position = number of real tokens before this one, so left-padded rows start at 0 like right-padded ones.
    const pos = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      let n = 0;
      for (let t = 0; t < T; t++) {
        pos[b * T + t] = Math.max(0, n - 1 + (batch.mask[b * T + t] ? 1 : 0));
        if (batch.mask[b * T + t]) n++;
      }
      if (n > c.maxPositions) throw new DecoderError(`sequence of ${n} tokens exceeds the model's context of ${c.maxPositions} positions`);
    }
    // Additive mask [B, 1, T, T]: key j visible from query i when j <= i and j is a real token.
    // A large finite negative (not -inf) keeps fully masked padding rows finite.
    const bias = new Float32Array(B * T * T);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) bias[(b * T + i) * T + j] = j <= i && batch.mask[b * T + j] ? 0 : NEG;

    let seed = opts.seed ?? 0;
    const nextSeed = () => seed++;
    return tf.tidy(() => {
      const posT = tf.tensor1d(pos, 'int32');
      const cos = tf.reshape(tf.gather(tf.tensor2d(this.cos, [c.maxPositions, c.headDim]), posT), [B, 1, T, c.headDim]);
      const sin = tf.reshape(tf.gather(tf.tensor2d(this.sin, [c.maxPositions, c.headDim]), posT), [B, 1, T, c.headDim]);
      const maskBias = tf.tensor4d(bias, [B, 1, T, T]);
      let x = tf.gather(this.param('model.embed_tokens.weight'), tf.tensor1d(batch.ids, 'int32')) as tf.Tensor2D;
      for (let i = 0; i < c.numLayers; i++) {
        const p = `model.layers.${i}`;
        const h = this.rmsNorm(x, `${p}.input_layernorm.weight`);
        const attn = this.attention(h, p, B, T, cos, sin, maskBias, opts, nextSeed);
        x = tf.add(x, this.linear(attn, `${p}.self_attn.o_proj`, opts, nextSeed));
        const h2 = this.rmsNorm(x, `${p}.post_attention_layernorm.weight`);
        const gate = this.linear(h2, `${p}.mlp.gate_proj`, opts, nextSeed);
        const up = this.linear(h2, `${p}.mlp.up_proj`, opts, nextSeed);
        const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
        x = tf.add(x, this.linear(act as tf.Tensor2D, `${p}.mlp.down_proj`, opts, nextSeed));
      }
      return this.rmsNorm(x, 'model.norm.weight');
    });
  }

  /** The final token's hidden state per row, [B, D]: what the head reads and what distillation stores. */
  pooled(batch: TokenBatch, opts: ForwardOptions = {}): tf.Tensor2D {
    const last = lastTokenIndex(batch);
    return tf.tidy(() => {
      const h = this.hidden(batch, opts);
      return tf.gather(h, tf.tensor1d(last.map((t, b) => b * batch.seqLen + t), 'int32')) as tf.Tensor2D;
    });
  }

  /** One logit per label, [B, L]. */
  classify(batch: TokenBatch, opts: ForwardOptions = {}): tf.Tensor2D {
    if (!this.headVar) throw new DecoderError('the model has no classification head: attach one first');
    const head = this.headVar;
    return tf.tidy(() => tf.matMul(this.pooled(batch, opts), head));
  }

  /** Next-token logits [B*T, V] (tied embeddings or lm_head), for causal-LM pre-training. */
  lmLogits(batch: TokenBatch, opts: ForwardOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const h = this.hidden(batch, opts);
      if (this.config.tieWordEmbeddings) return tf.matMul(h, this.param('model.embed_tokens.weight'), false, true);
      return tf.matMul(h, this.param('lm_head.weight'));
    });
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.disposeAdapters();
    this.headVar?.dispose();
    this.headVar = null;
  }

  private disposeAdapters(): void {
    for (const { a, b } of this.adapters.values()) {
      a.dispose();
      b.dispose();
    }
    this.adapters.clear();
  }

  private param(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new DecoderError(`weight "${name}" is not loaded`);
    return v;
  }

  private rmsNorm(x: tf.Tensor2D, weight: string): tf.Tensor2D {
    const variance = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, this.config.rmsNormEps))), this.param(weight));
  }

  private linear(x: tf.Tensor2D, module: string, opts: ForwardOptions, nextSeed: () => number): tf.Tensor2D {
    let y: tf.Tensor2D = tf.matMul(x, this.param(`${module}.weight`));
    const bias = this.params.get(`${module}.bias`);
    if (bias) y = tf.add(y, bias);
    const ad = this.adapters.get(module);
    if (ad && this.lora) {
      const rate = opts.training ? this.lora.dropout : 0;
      const input = rate > 0 ? (tf.dropout(x, rate, undefined, nextSeed()) as tf.Tensor2D) : x;
      y = tf.add(y, tf.mul(tf.matMul(tf.matMul(input, ad.a), ad.b), loraScale(this.lora)));
    }
    return y;
  }

  private attention(
    h: tf.Tensor2D,
    p: string,
    B: number,
    T: number,
    cos: tf.Tensor,
    sin: tf.Tensor,
    maskBias: tf.Tensor4D,
    opts: ForwardOptions,
    nextSeed: () => number,
  ): tf.Tensor2D {
    const { numHeads: H, numKvHeads: KV, headDim: hd } = this.config;
    const heads = (t: tf.Tensor2D, n: number) => tf.transpose(tf.reshape(t, [B, T, n, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
    const q = applyRope(heads(this.linear(h, `${p}.self_attn.q_proj`, opts, nextSeed), H), cos, sin);
    let k = applyRope(heads(this.linear(h, `${p}.self_attn.k_proj`, opts, nextSeed), KV), cos, sin);
    let v = heads(this.linear(h, `${p}.self_attn.v_proj`, opts, nextSeed), KV);
    if (KV !== H) {
      // HF repeat_kv: query head h reads kv head floor(h / (H / KV)).
      const g = H / KV;
      // Rank 3: tfjs has no tile gradient above rank 4.
      const repeat = (t: tf.Tensor4D) => tf.reshape(tf.tile(tf.reshape(t, [B * KV, 1, T * hd]), [1, g, 1]), [B, H, T, hd]) as tf.Tensor4D;
      k = repeat(k);
      v = repeat(v);
    }
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), maskBias);
    const ctx = tf.matMul(tf.softmax(scores), v);
    return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * T, H * hd]);
  }
}

function toFloat(t: tf.Tensor): FloatTensor {
  // Copy: the cpu backend hands out its own buffer.
  return { shape: [...t.shape], data: new Float32Array(t.dataSync() as Float32Array) };
}

function describe(c: DecoderConfig): string {
  return `vocab ${c.vocabSize}, hidden ${c.hiddenSize}, intermediate ${c.intermediateSize}, layers ${c.numLayers}, heads ${c.numHeads}/${c.numKvHeads} kv, head_dim ${c.headDim}`;
}

