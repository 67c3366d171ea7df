// The fused Adam (src/model/student/adam.ts) against tfjs's own tf.train.adam: same updates over several steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/tf/backend.ts';
import { FusedAdam } from '../../src/model/student/adam.ts';

function data(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) out[i] = ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 2 * scale;
  return out;
}

/** Runs `steps` optimizer steps on a small least-squares problem; returns the final weights. */
function train(useFused: boolean, steps: number): Float32Array[] {
  const w = tf.variable(tf.tensor(data(6 * 4, 1), [6, 4]), true);
  const b = tf.variable(tf.tensor(data(4, 2)), true);
  // Not part of the loss: no gradient, must stay unchanged.
  const idle = tf.variable(tf.tensor(data(3, 3)), true);
  const x = tf.tensor(data(10 * 6, 4, 3), [10, 6]);
  const y = tf.tensor(data(10 * 4, 5), [10, 4]);
  const vars = [w, b, idle];
  const loss = () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar;
  const fused = new FusedAdam({ learningRate: 0.01 });
  const stock = tf.train.adam(0.01);
  for (let s = 0; s < steps; s++) {
    if (useFused) {
      const { value, grads } = tf.variableGrads(loss, vars);
      fused.apply(vars, grads);
      tf.dispose([value, ...Object.values(grads)]);
    } else tf.dispose(stock.minimize(loss, true, vars) ?? []);
  }
  const out = vars.map((v) => Float32Array.from(v.dataSync()));
  stock.dispose();
  tf.dispose([...vars, x, y]);
  return out;
}

for (const backend of ['cpu', 'wasm'] as const)
  test(`${backend}: fused Adam gives tf.train.adam's weights after 1 and 25 steps (1e-6)`, async () => {
    await initBackend(backend);
    for (const steps of [1, 25]) {
      const expected = train(false, steps);
      const actual = train(true, steps);
      const start = [data(24, 1), data(4, 2), data(3, 3)];
      expected.forEach((e, k) => {
        let moved = 0;
        for (let i = 0; i < e.length; i++) {
          assert.ok(Math.abs(actual[k]![i]! - e[i]!) <= 1e-6, `${steps} steps, variable ${k}[${i}]: ${actual[k]![i]} vs ${e[i]}`);
          moved = Math.max(moved, Math.abs(e[i]! - start[k]![i]!));
        }
        // The comparison must mean something: trained variables moved, the idle one did not.
        if (k < 2) assert.ok(moved > 1e-3, `variable ${k} barely moved (${moved})`);
        else assert.equal(moved, 0);
      });
    }
  });

test('a gradient of the wrong size is refused', async () => {
  await initBackend('cpu');
  const v = tf.variable(tf.zeros([3]), true);
  const g = tf.zeros([4]);
  assert.throws(() => new FusedAdam({ learningRate: 0.1 }).apply([v], { [v.name]: g }), /gradient of .* has 4 values, the variable 3/);
  tf.dispose([v, g]);
});
