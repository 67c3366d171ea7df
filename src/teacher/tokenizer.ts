// The teacher's tokenizer: a Hugging Face tokenizer.json (+ tokenizer_config.json) from a local folder,
// loaded with @huggingface/tokenizers (pure JS, never touches the network).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { writeFileAtomic } from './safetensors.ts';

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

export interface TeacherTokenizer {
  readonly source: string;
  /** Highest token id + 1, added tokens included: what the embedding table must cover. */
  readonly vocabSize: number;
  readonly eosId: number;
  readonly padId: number;
  /** The prompt's ids: the model's own special tokens (e.g. Llama's BOS), then end-of-sequence appended. */
  encodePrompt(text: string): number[];
  /** Token count of encodePrompt(text). */
  count(text: string): number;
  decode(ids: readonly number[]): string;
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TokenizerError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new TokenizerError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

/**
 * Builds a tokenizer from parsed tokenizer.json / tokenizer_config.json. `fallbackEosId` (config.json's
 * eos_token_id) is used when the tokenizer config names no end-of-sequence token.
 */
export function tokenizerFromJson(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  source: string,
  fallbackEosId?: number,
): TeacherTokenizer {
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (err) {
    throw new TokenizerError(`${source}: not a usable tokenizer.json (${(err as Error).message})`);
  }
  let maxId = -1;
  for (const id of tok.get_vocab(true).values()) maxId = Math.max(maxId, id);
  if (maxId < 0) throw new TokenizerError(`${source}: the tokenizer has an empty vocabulary`);
  const idOf = (field: string): number | undefined => {
    const name = tokenName(tokenizerConfig[field]);
    if (name === undefined) return undefined;
    const id = tok.token_to_id(name);
    if (id === undefined) throw new TokenizerError(`${source}: tokenizer_config.json ${field} "${name}" is not in the vocabulary`);
    return id;
  };
  const eosId = idOf('eos_token') ?? fallbackEosId;
  if (eosId === undefined) {
    throw new TokenizerError(`${source}: no end-of-sequence token (tokenizer_config.json eos_token or config.json eos_token_id)`);
  }
  const padId = idOf('pad_token') ?? eosId;
  const encodePrompt = (text: string): number[] => {
    const ids = tok.encode(text, { add_special_tokens: true }).ids;
    // The paper pools the hidden state of an end-of-sequence token appended to the prompt.
    if (ids[ids.length - 1] !== eosId) ids.push(eosId);
    return ids;
  };
  return {
    source,
    vocabSize: maxId + 1,
    eosId,
    padId,
    encodePrompt,
    count: (text) => encodePrompt(text).length,
    decode: (ids) => tok.decode([...ids], { skip_special_tokens: true }),
  };
}

/** Loads `<dir>/tokenizer.json` (required) and `<dir>/tokenizer_config.json` (optional); local files only. */
export function loadTokenizer(dir: string, fallbackEosId?: number): TeacherTokenizer {
  const file = path.join(dir, 'tokenizer.json');
  if (!existsSync(file)) throw new TokenizerError(`${dir}: no tokenizer.json`);
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
  return tokenizerFromJson(readJson(file), cfg, file, fallbackEosId);
}

export function saveTokenizerFiles(dir: string, tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileAtomic(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
}
