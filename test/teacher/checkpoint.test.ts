import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { trainBpe } from '../../src/teacher/bpe-trainer.ts';
import { CheckpointError, loadHfCheckpoint, saveHfCheckpoint } from '../../src/teacher/checkpoint.ts';
import { toHfConfig, type DecoderConfig } from '../../src/teacher/config.ts';
import { Decoder, padBatch } from '../../src/teacher/decoder.ts';
import { encodeSafetensors, type FloatTensor } from '../../src/teacher/safetensors.ts';
import { saveTokenizerFiles } from '../../src/teacher/tokenizer.ts';
import { assertClose, backend, tinyConfig } from './helpers.ts';

before(backend);

const tok = trainBpe(['aspirin for the heart, insulin for diabetes', 'heparin after surgery; the patient should be prescribed'], { vocabSize: 300, minFrequency: 1 });

/** Writes a checkpoint the way a Hugging Face export lays it out, from a random decoder. */
function writeCheckpoint(config: DecoderConfig, seed: number, o: { dtype?: 'F32' | 'BF16'; shards?: boolean; hfConfig?: Record<string, unknown> } = {}): { dir: string; model: Decoder } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ckpt-'));
  const model = Decoder.random(config, seed);
  const tensors = model.baseTensors();
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...toHfConfig(config), ...o.hfConfig }));
  if (o.shards) {
    const names = Object.keys(tensors).sort();
    const half = Math.ceil(names.length / 2);
    const parts = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    parts.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const sub: Record<string, FloatTensor> = {};
      for (const n of part) {
        sub[n] = tensors[n]!;
        weightMap[n] = file;
      }
      writeFileSync(path.join(dir, file), encodeSafetensors(sub, { dtype: o.dtype ?? 'F32' }));
    });
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  } else {
    writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(tensors, { dtype: o.dtype ?? 'F32', metadata: { format: 'pt' } }));
  }
  saveTokenizerFiles(dir, tok.tokenizerJson, tok.tokenizerConfig);
  return { dir, model };
}

function logitsOf(m: Decoder): Float32Array {
  const t = m.hidden(padBatch([[5, 6, 7, 8, 9], [10, 11]], 0, 'left'));
  const out = new Float32Array(t.dataSync() as Float32Array);
  t.dispose();
  return out;
}

describe('Hugging Face checkpoints', () => {
  test('a tiny Llama checkpoint (tied embeddings) loads and computes what the original computes', () => {
    const config = tinyConfig({ vocabSize: 300 });
    const { dir, model } = writeCheckpoint(config, 3);
    const loaded = loadHfCheckpoint(dir);
    assert.equal(loaded.config.modelType, 'llama');
    assert.equal(loaded.tokenizer.eosId, 1);
    assertClose(logitsOf(loaded.decoder), logitsOf(model), 1e-6, 'hidden states');
    loaded.decoder.dispose();
    model.dispose();
  });

  test('Qwen2 (q/k/v biases, untied lm_head), BF16 and sharded', () => {
    const config = tinyConfig({ vocabSize: 300, modelType: 'qwen2', qkvBias: true, tieWordEmbeddings: false });
    const { dir, model } = writeCheckpoint(config, 4, { dtype: 'BF16', shards: true });
    const loaded = loadHfCheckpoint(dir);
    assert.equal(loaded.config.qkvBias, true);
    assert.ok(loaded.decoder.params.has('model.layers.1.self_attn.k_proj.bias'));
    assert.ok(loaded.decoder.params.has('lm_head.weight'));
    // BF16 keeps about 3 significant digits of each weight.
    assertClose(logitsOf(loaded.decoder), logitsOf(model), 0.05, 'hidden states from BF16');
    loaded.decoder.dispose();
    model.dispose();
  });

  test('save then load round-trips exactly', () => {
    const config = tinyConfig({ vocabSize: 300 });
    const model = Decoder.random(config, 5);
    const dir = mkdtempSync(path.join(tmpdir(), 'ckpt-'));
    saveHfCheckpoint(dir, model);
    saveTokenizerFiles(dir, tok.tokenizerJson, tok.tokenizerConfig);
    const loaded = loadHfCheckpoint(dir);
    assertClose(logitsOf(loaded.decoder), logitsOf(model), 0, 'round trip');
    loaded.decoder.dispose();
    model.dispose();
  });

  test('a config that does not match its weights is a clear error naming the tensor and the expected shape', () => {
    const config = tinyConfig({ vocabSize: 300 });
    const wider = writeCheckpoint(config, 6, { hfConfig: { intermediate_size: 64 } });
    assert.throws(
      () => loadHfCheckpoint(wider.dir),
      (e: unknown) => e instanceof CheckpointError && /tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[48, 32\], config\.json implies \[64, 32\]/.test(e.message),
    );
    const fewerLayers = writeCheckpoint(config, 7, { hfConfig: { num_hidden_layers: 1 } });
    assert.throws(() => loadHfCheckpoint(fewerLayers.dir), /tensor "model\.layers\.1\.[a-z_.]+" is not part of a llama model/);
    const moreLayers = writeCheckpoint(config, 8, { hfConfig: { num_hidden_layers: 3 } });
    assert.throws(() => loadHfCheckpoint(moreLayers.dir), /tensor "model\.layers\.2\.[a-z_.]+" is missing \(expected shape/);
    const badHeads = writeCheckpoint(config, 9, { hfConfig: { num_key_value_heads: 3 } });
    assert.throws(() => loadHfCheckpoint(badHeads.dir), /not a multiple of num_key_value_heads 3/);
    const scaled = writeCheckpoint(config, 9, { hfConfig: { rope_scaling: { type: 'linear', factor: 2 } } });
    assert.throws(() => loadHfCheckpoint(scaled.dir), /rope_scaling is not supported/);
    for (const m of [wider, fewerLayers, moreLayers, badHeads, scaled]) m.model.dispose();
  });

  test('a tokenizer that does not fit the model is refused', () => {
    const { dir, model } = writeCheckpoint(tinyConfig({ vocabSize: 300 }), 10, { hfConfig: { vocab_size: 200 } });
    // The weights say 300 rows, the config 200: the shape check fires first; make them agree at 200.
    assert.throws(() => loadHfCheckpoint(dir), /model\.embed_tokens\.weight" has shape \[300, 32\], config\.json implies \[200, 32\]/);
    model.dispose();
    const small = writeCheckpoint(tinyConfig({ vocabSize: 200 }), 11);
    assert.throws(() => loadHfCheckpoint(small.dir), /the tokenizer has ids up to 299 but config\.json vocab_size is 200/);
    small.model.dispose();
  });
});
