import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Decoder, padBatch } from '../../src/teacher/decoder.ts';
import { DEFAULT_LORA } from '../../src/teacher/lora.ts';
import { exportTeacherOnnx } from '../../src/teacher/onnx-export.ts';
import { OnnxTeacher } from '../../src/teacher/onnx-runner.ts';
import { assertClose, backend, tinyConfig } from './helpers.ts';

before(backend);

function tfjsOutputs(m: Decoder, seqs: number[][], padId: number): { features: Float32Array; probabilities: Float32Array } {
  const batch = padBatch(seqs, padId, 'right');
  const [h, p] = tf.tidy(() => {
    const pooled = m.pooled(batch);
    return [pooled, tf.sigmoid(tf.matMul(pooled, m.head!))];
  });
  const out = { features: new Float32Array(h!.dataSync() as Float32Array), probabilities: new Float32Array(p!.dataSync() as Float32Array) };
  h!.dispose();
  p!.dispose();
  return out;
}

describe('teacher ONNX export', () => {
  for (const [label, overrides] of [
    ['Llama, GQA, LoRA merged', {}],
    ['Qwen2 biases, multi-head', { modelType: 'qwen2' as const, qkvBias: true, numKvHeads: 4, tieWordEmbeddings: false }],
  ] as const) {
    test(`onnxruntime agrees with tfjs to 1e-4 (${label})`, async () => {
      const m = Decoder.random(tinyConfig(overrides), 17);
      m.attachHead(9, 18);
      m.attachLora(DEFAULT_LORA, 19);
      // Non-zero adapters, so that the merge is part of what is checked.
      const t = m.adapterTensors();
      let k = 0;
      for (const n of Object.keys(t)) {
        const r = tf.randomNormal(t[n]!.shape, 0, 0.05, 'float32', 500 + k++);
        t[n] = { shape: t[n]!.shape, data: new Float32Array(r.dataSync() as Float32Array) };
        r.dispose();
      }
      m.setAdapterTensors((n) => t[n], 'test');
      const seqs = [[3, 14, 15, 9, 26, 53, 58, 9, 7, 9, 3, 2], [2, 7, 18], [1, 41, 42, 13, 5, 60, 6, 0, 11]];
      const expected = tfjsOutputs(m, seqs, 0);
      const ort = await OnnxTeacher.create(exportTeacherOnnx(m), { maxPositions: m.config.maxPositions, hidden: m.config.hiddenSize, labels: 9 }, 1);
      const got = await ort.run(seqs, 0);
      assertClose(got.features, expected.features, 1e-4, 'pooled features');
      assertClose(got.probabilities, expected.probabilities, 1e-4, 'probabilities');
      // One row alone gives the same answer as in the padded batch.
      const alone = await ort.run([seqs[1]!], 0);
      assertClose(alone.features, got.features.subarray(m.config.hiddenSize, 2 * m.config.hiddenSize), 1e-5, 'padding');
      await ort.close();
      assert.ok(expected.probabilities.every((p) => p > 0 && p < 1));
      m.dispose();
    });
  }
});
