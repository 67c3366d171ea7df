import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { trainBpe } from '../../src/teacher/bpe-trainer.ts';
import { loadTokenizer, saveTokenizerFiles, TokenizerError } from '../../src/teacher/tokenizer.ts';

const corpus = [
  'The patient had 2 earlier encounters. In encounter 1, the patient had diagnoses: Essential hypertension, Atrial fibrillation; procedures: none. The patient was prescribed: Beta blocking agents, Vitamin K antagonists.',
  'In this encounter, the patient has diagnoses: Congestive heart failure, Type 2 diabetes mellitus; procedures: Insertion of endotracheal tube. Then, the patient should be prescribed:',
  'The patient had 0 earlier encounters. In this encounter, the patient has diagnoses: Acute kidney failure; procedures: Hemodialysis. Then, the patient should be prescribed:',
];

// A Llama-style (sentencepiece BPE) tokenizer.json, the layout Hugging Face writes for Llama checkpoints.
function llamaStyle(): { json: Record<string, unknown>; config: Record<string, unknown> } {
  const pieces = ['<unk>', '<s>', '</s>', '▁', 'h', 'e', 'l', 'o', 'w', 'r', 'd', 'he', 'll', 'hell', 'hello', '▁hello', 'wo', 'wor', 'worl', 'world', '▁world'];
  const vocab = Object.fromEntries(pieces.map((p, i) => [p, i]));
  return {
    json: {
      version: '1.0',
      added_tokens: [0, 1, 2].map((id) => ({ id, content: pieces[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        fuse_unk: true,
        byte_fallback: false,
        vocab,
        merges: ['h e', 'l l', 'he ll', 'hell o', '▁ hello', 'w o', 'wo r', 'wor l', 'worl d', '▁ world'],
      },
    },
    config: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true },
  };
}

describe('tokenizers', () => {
  test('loads a Llama-style tokenizer.json from a local folder: BOS first, EOS appended', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tok-'));
    const { json, config } = llamaStyle();
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    const tok = loadTokenizer(dir);
    assert.equal(tok.eosId, 2);
    assert.equal(tok.padId, 2, 'no pad token: padding reuses EOS');
    assert.equal(tok.vocabSize, 21);
    assert.deepEqual(tok.encodePrompt('hello world'), [1, 15, 20, 2]);
    assert.equal(tok.decode(tok.encodePrompt('hello world')), 'hello world');
    assert.equal(tok.count('hello world hello'), 5);
  });

  test('a trained byte-level BPE round-trips text, compresses it and is deterministic', () => {
    const a = trainBpe(corpus, { vocabSize: 400, minFrequency: 1 });
    const b = trainBpe(corpus, { vocabSize: 400, minFrequency: 1 });
    assert.deepEqual(a.tokenizerJson, b.tokenizerJson);
    assert.ok(a.merges > 50, `expected merges, got ${a.merges}`);
    const dir = mkdtempSync(path.join(tmpdir(), 'tok-'));
    saveTokenizerFiles(dir, a.tokenizerJson, a.tokenizerConfig);
    const tok = loadTokenizer(dir);
    assert.ok(tok.vocabSize <= 400);
    assert.equal(tok.padId, 0);
    assert.equal(tok.eosId, 1);
    for (const text of [...corpus, 'Unseen words: warfarin, café — 42 mg/dL ✓']) {
      const ids = tok.encodePrompt(text);
      assert.equal(ids[ids.length - 1], tok.eosId);
      assert.equal(tok.decode(ids), text);
      assert.ok(ids.every((id) => id >= 0 && id < tok.vocabSize));
    }
    const text = corpus[0]!;
    assert.ok(tok.count(text) < new TextEncoder().encode(text).length / 2.5, 'frequent words must become single tokens');
  });

  test('bad tokenizer folders give errors that name the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tok-'));
    assert.throws(() => loadTokenizer(dir), /no tokenizer\.json/);
    writeFileSync(path.join(dir, 'tokenizer.json'), '{ not json');
    assert.throws(() => loadTokenizer(dir), (e: unknown) => e instanceof TokenizerError && /tokenizer\.json: invalid JSON/.test(e.message));
    const { json } = llamaStyle();
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>' }));
    assert.throws(() => loadTokenizer(dir), /eos_token "<\|im_end\|>" is not in the vocabulary/);
    writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
    assert.throws(() => loadTokenizer(dir), /no end-of-sequence token/);
    assert.equal(loadTokenizer(dir, 2).eosId, 2, "config.json's eos_token_id is the fallback");
    assert.throws(() => trainBpe(corpus, { vocabSize: 100 }), /too small/);
  });
});
