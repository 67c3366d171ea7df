// The fast Tile kernel (src/model/tf/kernels/tile.ts) against the stock cpu kernel: exact copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/tf/backend.ts';
import { fastKernelsEnabled, registerFastKernels, unregisterFastKernels } from '../../src/model/tf/kernels/register.ts';
import { tileForm } from '../../src/model/tf/kernels/tile.ts';

function values(shape: number[], seed: number): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed;
  for (let i = 0; i < out.length; i++) out[i] = ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 4 - 2;
  return out;
}

async function tileOn(backend: 'cpu' | 'wasm', patched: boolean, shape: number[], reps: number[], dtype: 'float32' | 'int32'): Promise<number[]> {
  await initBackend(backend);
  const others = (['cpu', 'wasm'] as const).filter((b) => fastKernelsEnabled(b));
  if (!patched) for (const b of others) unregisterFastKernels(b);
  try {
    const data = values(shape, 3);
    const x = dtype === 'int32' ? tf.tensor(Int32Array.from(data, (v) => Math.round(v * 100)), shape, 'int32') : tf.tensor(data, shape, 'float32');
    const y = tf.tile(x, reps);
    const out = Array.from(y.dataSync());
    tf.dispose([x, y]);
    return out;
  } finally {
    if (!patched) for (const b of others) registerFastKernels(b);
  }
}

test('merged form: untiled neighbours merge, untiled size-1 axes drop', () => {
  assert.deepEqual(tileForm([153, 12, 4, 16, 1], [1, 1, 1, 1, 12]), { dims: [117504, 1], reps: [1, 12] });
  assert.deepEqual(tileForm([5, 1, 3], [1, 4, 1]), { dims: [5, 1, 3], reps: [1, 4, 1] });
  assert.deepEqual(tileForm([1, 1], [1, 1]), { dims: [1], reps: [1] });
  assert.deepEqual(tileForm([2, 3], [2, 1]), { dims: [2, 3], reps: [2, 1] });
});

const cases: Array<[number[], number[]]> = [
  [[9, 6, 4, 5, 1], [1, 1, 1, 1, 7]], // Sum gradient over the last axis of attention products
  [[9, 6, 1], [1, 1, 64]], // LayerNorm mean gradient
  [[9, 1, 64], [1, 12, 1]], // masked-mean gradient
  [[3, 4, 5], [2, 3, 2]], // every axis tiled
  [[70, 130], [2, 3]], // long rows: set + copyWithin
  [[7], [5]],
  [[2, 0, 3], [1, 4, 2]], // empty
  [[4, 5], [1, 1]], // no tiling
];
for (const [shape, reps] of cases)
  for (const dtype of ['float32', 'int32'] as const)
    test(`[${shape}] reps [${reps}] ${dtype}: same values as the stock cpu kernel`, async () => {
      const expected = await tileOn('cpu', false, shape, reps, dtype);
      for (const backend of ['cpu', 'wasm'] as const) assert.deepEqual(await tileOn(backend, true, shape, reps, dtype), expected, backend);
    });
