// Trains a byte-level BPE tokenizer (GPT-2 style) on our own prompt corpus and emits a standard Hugging Face
// tokenizer.json, so that trained and downloaded tokenizers load through the same library.
// No maintained BPE trainer runs in plain Node; this one follows the tokenizers crate's algorithm:
// count pre-tokenized words, then repeatedly merge the most frequent adjacent symbol pair.

export interface BpeTrainOptions {
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged. */
  minFrequency?: number;
  /** Special tokens, given the first ids in this order. The first is padding, the second end-of-sequence. */
  specialTokens?: string[];
}

export interface TrainedTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  merges: number;
}

export const DEFAULT_SPECIAL_TOKENS = ['<|pad|>', '<|endoftext|>'];

// The same byte-to-character table and split pattern as the ByteLevel pre-tokenizer of HF tokenizers.
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i]!)));
  return table;
})();

const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function byteLevelWords(text: string): string[] {
  const enc = new TextEncoder();
  return (text.match(SPLIT) ?? []).map((w) => Array.from(enc.encode(w), (b) => BYTE_TO_CHAR[b]!).join(''));
}

export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): TrainedTokenizer {
  const specials = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const minFrequency = options.minFrequency ?? 2;
  const base = specials.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < base) {
    throw new Error(`vocabulary size ${options.vocabSize} is too small: the ${specials.length} special tokens and 256 bytes need ${base}`);
  }

  const wordCounts = new Map<string, number>();
  for (const text of texts) for (const w of byteLevelWords(text)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
  const words: string[][] = [];
  const freq: number[] = [];
  // Sorted so that ties between equally frequent pairs break the same way on every run.
  for (const [w, c] of [...wordCounts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    words.push([...w]);
    freq.push(c);
  }

  // Symbols never contain a space (the byte table maps it to Ġ), so it can join pair keys.
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1) => {
    const w = words[wi]!;
    for (let i = 0; i + 1 < w.length; i++) {
      const key = `${w[i]} ${w[i + 1]}`;
      const c = (pairCount.get(key) ?? 0) + sign * freq[wi]!;
      if (c === 0) pairCount.delete(key);
      else pairCount.set(key, c);
      if (sign > 0) {
        let s = pairWords.get(key);
        if (!s) pairWords.set(key, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const vocab = new Map<string, number>();
  specials.forEach((s, i) => vocab.set(s, i));
  // Bytes in byte order, as the reference trainer's initial alphabet.
  for (let b = 0; b < 256; b++) vocab.set(BYTE_TO_CHAR[b]!, vocab.size);
  const merges: [string, string][] = [];

  while (vocab.size < options.vocabSize) {
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined || bestCount < minFrequency) break;
    const [a, b] = best.split(' ') as [string, string];
    const merged = a + b;
    merges.push([a, b]);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const wi of pairWords.get(best) ?? []) {
      const w = words[wi]!;
      let has = false;
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) has = true;
      if (!has) continue;
      addPairs(wi, -1);
      const out: string[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(w[i]!);
      }
      words[wi] = out;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }

  const addedTokens = specials.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    pad_token: specials[0] ?? null,
    eos_token: specials[1] ?? specials[0] ?? null,
    bos_token: null,
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000,
  };
  return { tokenizerJson, tokenizerConfig, merges: merges.length };
}
