import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Decoder, padBatch, type TokenBatch } from '../../src/teacher/decoder.ts';
import { DEFAULT_LORA } from '../../src/teacher/lora.ts';
import { applyRope, ropeTables } from '../../src/teacher/rope.ts';
import { assertClose, backend, maxAbsDiff, tinyConfig } from './helpers.ts';

before(backend);

function rows(t: tf.Tensor): Float32Array {
  const out = new Float32Array(t.dataSync() as Float32Array);
  t.dispose();
  return out;
}

describe('rotary position embeddings', () => {
  test('match the direct rotation formula of HF Llama (pairs i and i + d/2)', () => {
    const d = 8;
    const theta = 10000;
    const T = 5;
    const { cos, sin } = ropeTables(d, theta, 16);
    const x = tf.randomNormal([1, 1, T, d], 0, 1, 'float32', 3) as tf.Tensor4D;
    const xs = x.dataSync();
    const out = applyRope(x, tf.tensor4d(cos.slice(0, T * d), [1, 1, T, d]), tf.tensor4d(sin.slice(0, T * d), [1, 1, T, d])).dataSync();
    const expected = new Float32Array(T * d);
    for (let p = 0; p < T; p++)
      for (let i = 0; i < d / 2; i++) {
        const angle = p / theta ** ((2 * i) / d);
        const a = xs[p * d + i]!;
        const b = xs[p * d + i + d / 2]!;
        expected[p * d + i] = a * Math.cos(angle) - b * Math.sin(angle);
        expected[p * d + i + d / 2] = b * Math.cos(angle) + a * Math.sin(angle);
      }
    assertClose(out, expected, 1e-5, 'rope');
  });

  test('make q.k depend only on the position difference', () => {
    const d = 8;
    const { cos, sin } = ropeTables(d, 10000, 32);
    const at = (v: tf.Tensor4D, p: number) =>
      applyRope(v, tf.tensor4d(cos.slice(p * d, (p + 1) * d), [1, 1, 1, d]), tf.tensor4d(sin.slice(p * d, (p + 1) * d), [1, 1, 1, d]));
    const q = tf.randomNormal([1, 1, 1, d], 0, 1, 'float32', 4) as tf.Tensor4D;
    const k = tf.randomNormal([1, 1, 1, d], 0, 1, 'float32', 5) as tf.Tensor4D;
    const dot = (m: number, n: number) => tf.sum(tf.mul(at(q, m), at(k, n))).dataSync()[0]!;
    assert.ok(Math.abs(dot(3, 1) - dot(12, 10)) < 1e-4);
    assert.ok(Math.abs(dot(3, 1) - dot(3, 2)) > 1e-4, 'a different offset must change the score');
  });
});

describe('attention masks', () => {
  test('causal mask: changing later tokens leaves earlier hidden states unchanged', () => {
    const m = Decoder.random(tinyConfig(), 11);
    const a = [5, 9, 14, 3, 22, 7];
    const b = [5, 9, 14, 40, 1, 2];
    const ha = rows(m.hidden(padBatch([a], 0)));
    const hb = rows(m.hidden(padBatch([b], 0)));
    const D = m.config.hiddenSize;
    assertClose(hb.subarray(0, 3 * D), ha.subarray(0, 3 * D), 1e-6, 'positions before the change');
    assert.ok(maxAbsDiff(hb.subarray(3 * D), ha.subarray(3 * D)) > 1e-3, 'positions at and after the change must differ');
    m.dispose();
  });

  test('padding: left-padded, right-padded and unpadded rows pool to the same final-token state', () => {
    const m = Decoder.random(tinyConfig(), 12);
    const short = [4, 8, 15, 16];
    const long = [23, 42, 7, 7, 9, 1, 30];
    const alone = rows(m.pooled(padBatch([short], 0)));
    const right = rows(m.pooled(padBatch([short, long], 0, 'right')));
    const left = rows(m.pooled(padBatch([short, long], 0, 'left')));
    const aloneLong = rows(m.pooled(padBatch([long], 0)));
    const D = m.config.hiddenSize;
    assertClose(right.subarray(0, D), alone, 1e-5, 'right padding');
    assertClose(left.subarray(0, D), alone, 1e-5, 'left padding');
    assertClose(left.subarray(D), aloneLong, 1e-5, 'unpadded row in a left-padded batch');
    assertClose(right.subarray(D), aloneLong, 1e-5, 'unpadded row in a right-padded batch');
    m.dispose();
  });

  test('a sequence longer than the context is refused', () => {
    const m = Decoder.random(tinyConfig({ maxPositions: 8 }), 1);
    assert.throws(() => m.hidden(padBatch([[1, 2, 3, 4, 5, 6, 7, 8, 9]], 0)), /exceeds the model's context of 8/);
    m.dispose();
  });
});

describe('grouped-query attention', () => {
  test('equals multi-head attention whose k/v heads are the GQA heads repeated per group', () => {
    const gqa = Decoder.random(tinyConfig({ numHeads: 4, numKvHeads: 2 }), 21);
    const tensors = gqa.baseTensors();
    const hd = gqa.config.headDim;
    // Repeat each kv head's rows (HF layout [kv*hd, D]) twice: head h of MHA uses kv head floor(h / 2).
    const repeatRows = (t: { shape: number[]; data: Float32Array }) => {
      const D = t.shape[1]!;
      const kv = t.shape[0]! / hd;
      const out = new Float32Array(kv * 2 * hd * D);
      for (let h = 0; h < kv * 2; h++) out.set(t.data.subarray(Math.floor(h / 2) * hd * D, (Math.floor(h / 2) + 1) * hd * D), h * hd * D);
      return { shape: [kv * 2 * hd, D], data: out };
    };
    for (const name of Object.keys(tensors)) if (/\.(k_proj|v_proj)\.weight$/.test(name)) tensors[name] = repeatRows(tensors[name]!);
    const mhaConfig = tinyConfig({ numHeads: 4, numKvHeads: 4 });
    const mha = Decoder.fromTensors(mhaConfig, (n) => tensors[n], Object.keys(tensors), 'test');
    const batch = padBatch([[3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8]], 0);
    assertClose(rows(mha.hidden(batch)), rows(gqa.hidden(batch)), 1e-5, 'GQA vs MHA');
    gqa.dispose();
    mha.dispose();
  });
});

describe('LoRA', () => {
  function withRandomAdapters(seed: number): Decoder {
    const m = Decoder.random(tinyConfig({ qkvBias: true }), seed);
    m.attachHead(5, seed + 1);
    m.attachLora(DEFAULT_LORA, seed + 2);
    const t = m.adapterTensors();
    let k = 0;
    for (const name of Object.keys(t)) {
      const r = tf.randomNormal(t[name]!.shape, 0, 0.05, 'float32', seed * 100 + k++);
      t[name] = { shape: t[name]!.shape, data: new Float32Array(r.dataSync() as Float32Array) };
      r.dispose();
    }
    m.setAdapterTensors((n) => t[n], 'test');
    return m;
  }

  test('fresh adapters leave the model unchanged (B starts at zero)', () => {
    const m = Decoder.random(tinyConfig(), 31);
    m.attachHead(3);
    const batch = padBatch([[1, 2, 3, 4, 5]], 0);
    const before = rows(m.classify(batch));
    m.attachLora(DEFAULT_LORA);
    assertClose(rows(m.classify(batch)), before, 1e-7, 'zero adapter');
    m.dispose();
  });

  test('merged weights give the same logits as base + adapters', () => {
    const m = withRandomAdapters(41);
    const batch = padBatch([[9, 8, 7, 6, 5, 4], [1, 2, 3]], 0);
    const unmerged = rows(m.classify(batch));
    const base = Decoder.random(tinyConfig({ qkvBias: true }), 41);
    const baseLogits = (() => {
      base.setHead(m.headTensor());
      return rows(base.classify(batch));
    })();
    assert.ok(maxAbsDiff(unmerged, baseLogits) > 1e-3, 'the adapters must change the logits');
    const merged = m.baseTensors(true);
    const viaExport = Decoder.fromTensors(m.config, (n) => merged[n], Object.keys(merged), 'merged');
    viaExport.setHead(m.headTensor());
    assertClose(rows(viaExport.classify(batch)), unmerged, 1e-5, 'exported merged weights');
    m.mergeAdapters();
    assert.equal(m.loraConfig, null);
    assertClose(rows(m.classify(batch)), unmerged, 1e-5, 'merged in place');
    for (const d of [m, base, viaExport]) d.dispose();
  });

  test('dropout applies only when training, and a seed reproduces it', () => {
    const m = withRandomAdapters(51);
    const batch = padBatch([[4, 5, 6, 7]], 0);
    const evalA = rows(m.classify(batch));
    const evalB = rows(m.classify(batch));
    assertClose(evalA, evalB, 0, 'eval is deterministic');
    const t1 = rows(m.classify(batch, { training: true, seed: 7 }));
    const t2 = rows(m.classify(batch, { training: true, seed: 7 }));
    const t3 = rows(m.classify(batch, { training: true, seed: 8 }));
    assertClose(t1, t2, 0, 'same seed');
    assert.ok(maxAbsDiff(t1, evalA) > 1e-6 && maxAbsDiff(t1, t3) > 1e-6, 'dropout must change the training forward');
    m.dispose();
  });

  test('the frozen base gets no gradient; adapters and head do', () => {
    const m = withRandomAdapters(61);
    const batch: TokenBatch = padBatch([[1, 2, 3, 4], [5, 6]], 0);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(m.classify(batch, { training: true, seed: 1 }))) as tf.Scalar);
    const names = Object.keys(grads);
    assert.ok(value.dataSync()[0]! > 0);
    const base = names.filter((n) => n.startsWith('model.') && !n.includes('.lora_'));
    assert.equal(base.length, 0, `base weights got gradients: ${base.join(', ')}`);
    const adapters = names.filter((n) => n.includes('.lora_'));
    assert.equal(adapters.length, 2 * 7 * m.config.numLayers);
    assert.ok(names.some((n) => n.startsWith('score.weight')));
    const trainable = new Set(m.trainableVariables().map((v) => v.name));
    assert.deepEqual(new Set(names), trainable);
    m.dispose();
  });
});
