// The decoder's architecture, read from (and written as) a Hugging Face config.json of the Llama family.
import { z } from 'zod';

const SUPPORTED = ['llama', 'qwen2', 'mistral'] as const;

const HfConfig = z
  .object({
    model_type: z.string(),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().optional(),
    head_dim: z.number().int().positive().nullish(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    rope_scaling: z.unknown().optional(),
    max_position_embeddings: z.number().int().positive().default(2048),
    tie_word_embeddings: z.boolean().default(false),
    attention_bias: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
    hidden_act: z.string().default('silu'),
    bos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish(),
    eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish(),
    pad_token_id: z.number().int().nullish(),
    sliding_window: z.number().int().nullish(),
    use_sliding_window: z.boolean().optional(),
  })
  .passthrough();

export interface DecoderConfig {
  modelType: (typeof SUPPORTED)[number];
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** q, k and v projections carry a bias (Qwen2 always; Llama when attention_bias). */
  qkvBias: boolean;
  eosTokenId?: number;
  padTokenId?: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseHfConfig(json: unknown, source = 'config.json'): DecoderConfig {
  const parsed = HfConfig.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${source}: field "${issue.path.join('.')}": ${issue.message}`);
  }
  const c = parsed.data;
  if (!(SUPPORTED as readonly string[]).includes(c.model_type)) {
    throw new ConfigError(`${source}: model_type "${c.model_type}" is not supported (supported: ${SUPPORTED.join(', ')})`);
  }
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    throw new ConfigError(`${source}: rope_scaling is not supported (got ${JSON.stringify(c.rope_scaling)})`);
  }
  if (c.hidden_act !== 'silu') throw new ConfigError(`${source}: hidden_act "${c.hidden_act}" is not supported (silu only)`);
  if (c.mlp_bias) throw new ConfigError(`${source}: mlp_bias is not supported`);
  if (c.use_sliding_window) throw new ConfigError(`${source}: sliding-window attention is not supported`);
  const numKvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % numKvHeads !== 0) {
    throw new ConfigError(`${source}: num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError(`${source}: head dimension ${headDim} must be an even integer`);
  }
  const eos = Array.isArray(c.eos_token_id) ? c.eos_token_id[0] : c.eos_token_id;
  return {
    modelType: c.model_type as DecoderConfig['modelType'],
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    rmsNormEps: c.rms_norm_eps,
    ropeTheta: c.rope_theta,
    maxPositions: c.max_position_embeddings,
    tieWordEmbeddings: c.tie_word_embeddings,
    qkvBias: c.model_type === 'qwen2' ? true : (c.attention_bias ?? false),
    ...(eos !== undefined && eos !== null ? { eosTokenId: eos } : {}),
    ...(c.pad_token_id !== undefined && c.pad_token_id !== null ? { padTokenId: c.pad_token_id } : {}),
  };
}

/** config.json for a decoder we trained, loadable by Hugging Face transformers as well. */
export function toHfConfig(c: DecoderConfig): Record<string, unknown> {
  return {
    architectures: [c.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : c.modelType === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    max_position_embeddings: c.maxPositions,
    tie_word_embeddings: c.tieWordEmbeddings,
    hidden_act: 'silu',
    ...(c.modelType === 'llama' ? { attention_bias: c.qkvBias } : {}),
    ...(c.eosTokenId !== undefined ? { eos_token_id: c.eosTokenId } : {}),
    ...(c.padTokenId !== undefined ? { pad_token_id: c.padTokenId } : {}),
    torch_dtype: 'float32',
  };
}

/** A CPU-sized decoder for teachers trained from scratch. */
export function smallConfig(vocabSize: number, overrides: Partial<DecoderConfig> = {}): DecoderConfig {
  const hiddenSize = overrides.hiddenSize ?? 128;
  const numHeads = overrides.numHeads ?? 4;
  return {
    modelType: 'llama',
    vocabSize,
    hiddenSize,
    intermediateSize: overrides.intermediateSize ?? hiddenSize * 3,
    numLayers: 4,
    numHeads,
    numKvHeads: 2,
    headDim: hiddenSize / numHeads,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    maxPositions: 512,
    tieWordEmbeddings: true,
    qkvBias: false,
    ...overrides,
  };
}
