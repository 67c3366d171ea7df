import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, parseBackendChoice } from '../../src/model/tf/backend.ts';
import { registerFastKernels, unregisterFastKernels, fastKernelsEnabled } from '../../src/model/tf/kernels/register.ts';
import { swapForm } from '../../src/model/tf/kernels/transpose.ts';

type Backend = 'cpu' | 'wasm';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function randn(shape: number[], seed: number): { shape: number[]; values: Float32Array } {
  const r = rng(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = r() * 2;
  return { shape, values };
}

function t(spec: { shape: number[]; values: Float32Array }): tf.Tensor {
  return tf.tensor(spec.values, spec.shape, 'float32');
}

/** Runs `fn` on one backend, stock or patched, and returns the results as plain arrays. */
async function run(backend: Backend, patched: boolean, fn: () => tf.Tensor[]): Promise<Array<{ shape: number[]; values: Float32Array }>> {
  await initBackend(backend);
  const wasOn = fastKernelsEnabled(backend);
  const others = (['cpu', 'wasm'] as const).filter((b) => fastKernelsEnabled(b));
  if (!patched) for (const b of others) unregisterFastKernels(b);
  try {
    const out = tf.tidy(fn);
    const res = out.map((x) => ({ shape: x.shape, values: Float32Array.from(x.dataSync()) }));
    tf.dispose(out);
    return res;
  } finally {
    if (!patched) for (const b of others) registerFastKernels(b);
    assert.equal(fastKernelsEnabled(backend), wasOn);
  }
}

function assertClose(actual: { shape: number[]; values: Float32Array }, expected: { shape: number[]; values: Float32Array }, what: string, rel = 1e-5): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.values.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected.values[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(actual.values[i]! - expected.values[i]!));
  }
  assert.ok(maxDiff <= rel * Math.max(1, maxAbs), `${what}: max abs diff ${maxDiff} (max |ref| ${maxAbs})`);
}

/** Compares the patched cpu and wasm results with the stock cpu backend's. */
async function compareWithStock(what: string, fn: () => tf.Tensor[], rel = 1e-5, reference?: () => tf.Tensor[]): Promise<void> {
  const expected = await run('cpu', false, reference ?? fn);
  for (const backend of ['cpu', 'wasm'] as const) {
    const actual = await run(backend, true, fn);
    assert.equal(actual.length, expected.length);
    actual.forEach((a, i) => assertClose(a, expected[i]!, `${what} on ${backend} [output ${i}]`, rel));
  }
}

describe('backend selection', () => {
  test('cpu when asked', async () => {
    const info = await initBackend('cpu');
    assert.equal(info.name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.deepEqual(info.fellBackFrom, []);
    assert.equal(info.gpu, false);
    assert.equal(await initBackend('cpu'), info, 'a repeated call returns the same answer');
  });

  test('wasm when asked, with the packaged SIMD binary', async () => {
    const info = await initBackend('wasm');
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), true);
    assert.ok(fastKernelsEnabled('wasm'));
  });

  const nativeInstalled = (() => {
    try {
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
      return true;
    } catch {
      return false;
    }
  })();

  test('tensorflow falls back with a reason when tfjs-node-gpu is absent', { skip: nativeInstalled && 'tfjs-node-gpu is installed here' }, async () => {
    const info = await initBackend('tensorflow');
    assert.equal(info.name, 'wasm');
    assert.equal(info.fellBackFrom[0]?.name, 'tensorflow');
    assert.match(info.fellBackFrom[0]?.reason ?? '', /tfjs-node-gpu/);
  });

  test('auto picks wasm here', { skip: nativeInstalled && 'tfjs-node-gpu is installed here' }, async () => {
    const info = await initBackend('auto');
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  test('--backend values: known names pass, others are refused with the list', () => {
    assert.equal(parseBackendChoice('auto'), 'auto');
    assert.equal(parseBackendChoice('wasm'), 'wasm');
    assert.throws(() => parseBackendChoice('gpu'), /unknown backend 'gpu': expected one of auto, tensorflow, wasm, cpu/);
  });

  test('gradients and chained ops are available from tfjs-core', async () => {
    await initBackend('cpu');
    const x = tf.tensor([1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.relu(v)))(x);
    assert.deepEqual(Array.from(g.dataSync()), [1, 0, 1]);
    assert.equal((x as unknown as { sum(): tf.Tensor }).sum().dataSync()[0], 2);
  });
});

describe('UnsortedSegmentSum', () => {
  before(async () => {
    await initBackend('cpu');
    await initBackend('wasm');
  });

  test('repeated ids, id 0, negative ids dropped, trailing dims', async () => {
    const x = randn([7, 3, 5], 1);
    const ids = [0, 2, 2, -1, 0, 4, 2];
    await compareWithStock('segment sum', () => [tf.unsortedSegmentSum(t(x), tf.tensor1d(ids, 'int32'), 6)]);
  });

  test('2-D segment ids over a rank-3 input', async () => {
    const x = randn([4, 3, 8], 2);
    const ids = [[1, 1, 0], [3, 0, 0], [2, 1, 3], [0, 0, 0]];
    // The stock cpu kernel mis-broadcasts ids of rank > 1; its reference flattens them first.
    await compareWithStock(
      'segment sum 2-D ids',
      () => [tf.unsortedSegmentSum(t(x), tf.tensor2d(ids, [4, 3], 'int32') as unknown as tf.Tensor1D, 5)],
      1e-5,
      () => [tf.unsortedSegmentSum(tf.reshape(t(x), [12, 8]), tf.tensor1d(ids.flat(), 'int32'), 5)],
    );
  });

  test('int32 input', async () => {
    await compareWithStock('segment sum int32', () => [
      tf.cast(tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32'), tf.tensor1d([1, 0, 1], 'int32'), 2), 'float32'),
    ]);
  });

  test('empty input gives zeros', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      const [out] = await run(backend, true, () => [tf.unsortedSegmentSum(tf.zeros([0, 4]), tf.tensor1d([], 'int32'), 3)]);
      assert.deepEqual(out!.shape, [3, 4]);
      assert.ok(out!.values.every((v) => v === 0));
    }
  });

  test('out-of-range id is a clear error', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      assert.throws(() => tf.unsortedSegmentSum(tf.ones([2, 2]), tf.tensor1d([0, 5], 'int32'), 3), /segment id 5 at position 1 is out of range/);
    }
  });
});

describe('GatherV2 gradient', () => {
  test('embedding lookup: repeated indices and index 0', async () => {
    const table = randn([50, 16], 3);
    const w = randn([4, 6, 16], 4);
    const idx = [0, 3, 3, 49, 0, 7, 1, 1, 1, 2, 0, 0, 10, 11, 12, 3, 3, 3, 0, 49, 48, 5, 6, 7];
    await compareWithStock('gather grad', () => {
      const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, tf.tensor2d(idx, [4, 6], 'int32')), t(w)));
      return [tf.grad(f)(t(table))];
    });
  });

  test('gather along axis 1 (delegates to the stock formula)', async () => {
    const x = randn([3, 9, 4], 5);
    const w = randn([3, 5, 4], 6);
    await compareWithStock('gather grad axis 1', () => {
      const f = (v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v, tf.tensor1d([8, 0, 0, 4, 2], 'int32'), 1), t(w)));
      return [tf.grad(f)(t(x))];
    });
  });

  test('from a non-contiguous (transposed) table', async () => {
    const table = randn([16, 30], 7);
    const w = randn([5, 16], 8);
    await compareWithStock('gather grad of transposed table', () => {
      const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.gather(tf.transpose(x), tf.tensor1d([29, 0, 0, 17, 29], 'int32')), t(w)));
      return [tf.grad(f)(t(table))];
    });
  });
});

describe('BatchMatMul forward and gradient', () => {
  const cases: Array<{ a: number[]; b: number[]; tA: boolean; tB: boolean }> = [];
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      cases.push({ a: tA ? [3, 4, 5] : [3, 5, 4], b: tB ? [3, 6, 4] : [3, 4, 6], tA, tB });
      cases.push({ a: tA ? [4, 5] : [5, 4], b: tB ? [6, 4] : [4, 6], tA, tB });
      cases.push({ a: tA ? [2, 2, 4, 5] : [2, 2, 5, 4], b: tB ? [2, 2, 6, 4] : [2, 2, 4, 6], tA, tB });
      // Large enough per batch entry (m*k*n >= 4096) for the per-entry XNNPACK path on wasm.
      cases.push({ a: tA ? [3, 16, 20] : [3, 20, 16], b: tB ? [3, 24, 16] : [3, 16, 24], tA, tB });
      cases.push({ a: tA ? [2, 2, 16, 20] : [2, 2, 20, 16], b: tB ? [2, 2, 24, 16] : [2, 2, 16, 24], tA, tB });
    }
  }
  for (const c of cases) {
    test(`a [${c.a}]${c.tA ? 'ᵀ' : ''} x b [${c.b}]${c.tB ? 'ᵀ' : ''}`, async () => {
      const a = randn(c.a, 11);
      const b = randn(c.b, 12);
      const seedShape = [...c.a.slice(0, -2), c.tA ? c.a[c.a.length - 1]! : c.a[c.a.length - 2]!, c.tB ? c.b[c.b.length - 2]! : c.b[c.b.length - 1]!];
      const w = randn(seedShape, 13);
      await compareWithStock(`matmul ${JSON.stringify(c)}`, () => {
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, c.tA, c.tB), t(w)));
        const { value, grads } = tf.valueAndGrads(f)([t(a), t(b)]);
        return [tf.matMul(t(a), t(b), c.tA, c.tB), value, ...grads];
      });
    });
  }

  // The stock gradient cannot broadcast; the reference tiles b explicitly, whose gradient sums.
  for (const tB of [false, true]) {
    test(`broadcast: a [8,5,4] x b [${tB ? '6,4' : '4,6'}]${tB ? 'ᵀ' : ''} (shared weights)`, async () => {
      const a = randn([8, 5, 4], 21);
      const b = randn(tB ? [6, 4] : [4, 6], 22);
      const w = randn([8, 5, 6], 23);
      const loss = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, false, tB), t(w)));
      const tiled = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, tf.tile(tf.expandDims(y, 0), [8, 1, 1]), false, tB), t(w)));
      await compareWithStock(
        'broadcast matmul',
        () => {
          const { value, grads } = tf.valueAndGrads(loss)([t(a), t(b)]);
          return [value, ...grads];
        },
        1e-5,
        () => {
          const { value, grads } = tf.valueAndGrads(tiled)([t(a), t(b)]);
          return [value, ...grads];
        },
      );
    });
  }

  test('empty dimensions: zero inner size gives zeros, zero rows give an empty result', async () => {
    await compareWithStock('empty matmul', () => [
      tf.matMul(tf.zeros([3, 70, 0]), tf.zeros([3, 0, 80])),
      tf.matMul(tf.zeros([2, 0, 64]), tf.ones([2, 64, 80])),
      tf.matMul(tf.zeros([0, 8]), tf.ones([8, 5]), false, false),
    ]);
  });

  test('broadcast: a [5,4] x b [3,4,6] (shared left operand)', async () => {
    const a = randn([5, 4], 31);
    const b = randn([3, 4, 6], 32);
    const w = randn([3, 5, 6], 33);
    await compareWithStock(
      'broadcast left matmul',
      () => {
        const { value, grads } = tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), t(w))))([t(a), t(b)]);
        return [value, ...grads];
      },
      1e-5,
      () => {
        const { value, grads } = tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(tf.matMul(tf.tile(tf.expandDims(x, 0), [3, 1, 1]), y), t(w))),
        )([t(a), t(b)]);
        return [value, ...grads];
      },
    );
  });
});

describe('GatherV2 forward', () => {
  test('axis 0 with 2-D indices, repeats and index 0', async () => {
    const table = randn([40, 8], 41);
    await compareWithStock('gather axis 0', () => [tf.gather(t(table), tf.tensor2d([[0, 39, 0], [5, 5, 1]], [2, 3], 'int32'))]);
  });

  test('axis 1, negative axis, int32 values, scalar index', async () => {
    const x = randn([3, 7, 5], 42);
    await compareWithStock('gather axes', () => [
      tf.gather(t(x), tf.tensor1d([6, 0, 3, 3], 'int32'), 1),
      tf.gather(t(x), tf.tensor1d([4, 0], 'int32'), -1),
      tf.cast(tf.gather(tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32'), tf.tensor1d([2, 0], 'int32')), 'float32'),
      tf.gather(t(x), tf.scalar(2, 'int32')),
    ]);
  });

  test('empty indices', async () => {
    const table = randn([6, 4], 43);
    await compareWithStock('gather empty', () => [tf.gather(t(table), tf.tensor1d([], 'int32'))]);
  });

  test('out-of-range index is a clear error', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      assert.throws(() => tf.gather(tf.ones([4, 2]), tf.tensor1d([1, 4], 'int32')), /index value 4 at position 1 is not in \[0, 3\]/);
      assert.throws(() => tf.gather(tf.ones([4, 2]), tf.tensor1d([-1], 'int32')), /index value -1/);
    }
  });
});

describe('Transpose', () => {
  test('recognises the swap forms it speeds up', () => {
    assert.deepEqual(swapForm([20480, 64], [1, 0]), [1, 20480, 64, 1]);
    assert.deepEqual(swapForm([8, 32, 16], [0, 2, 1]), [8, 32, 16, 1]);
    assert.deepEqual(swapForm([640, 32, 4, 16], [0, 2, 1, 3]), [640, 32, 4, 16]);
    assert.deepEqual(swapForm([2, 1, 3, 5], [0, 3, 1, 2]), [2, 3, 5, 1]);
    assert.deepEqual(swapForm([2, 3, 4], [0, 1, 2]), [1, 1, 24, 1]);
    assert.equal(swapForm([2, 3, 4], [2, 0, 1]) === null, false, '[2,0,1] merges to a 2-D swap');
    assert.equal(swapForm([2, 3, 4, 5], [3, 1, 2, 0]), null);
  });

  const shapes: Array<[number[], number[]]> = [
    [[1024, 24], [1, 0]], // long rows: the two-step wasm path (block 32)
    [[600, 40], [1, 0]], // block 8
    [[257, 5], [1, 0]], // no block divides 257: stock
    [[24, 1024], [1, 0]],
    [[3, 512, 7], [0, 2, 1]],
    [[2, 512, 6], [1, 0, 2]],
    [[6, 9, 4, 5], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [3, 1, 2, 0]], // not a swap: stock
    [[4, 1, 6], [2, 1, 0]],
  ];
  for (const [shape, perm] of shapes) {
    test(`[${shape}] perm [${perm}]`, async () => {
      const x = randn(shape, 51);
      await compareWithStock('transpose', () => [tf.transpose(t(x), perm)], 0);
      await compareWithStock('transpose int32', () => [tf.cast(tf.transpose(tf.cast(tf.mul(t(x), 100), 'int32'), perm), 'float32')], 0);
    });
  }

  test('transpose of a non-contiguous (sliced) input', async () => {
    const x = randn([700, 40], 52);
    await compareWithStock('transpose of slice', () => [tf.transpose(tf.slice(t(x), [3, 5], [512, 32]))], 0);
  });
});

describe('Identity', () => {
  test('a clone outlives its source and keeps its values', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const x = tf.tensor([1, 2, 3]);
      const y = tf.clone(x);
      x.dispose();
      assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
      const v = tf.variable(y);
      v.assign(tf.tensor([4, 5, 6]));
      assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3], 'assigning a variable leaves the tensor it was made from alone');
      y.dispose();
      v.dispose();
    }
  });
});

describe('no leaks', () => {
  test('a training step through every fast kernel frees all its buffers', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const emb = tf.variable(t(randn([300, 16], 61)));
      const w = tf.variable(t(randn([16, 16], 62)));
      const idx = tf.tensor2d(Array.from({ length: 4 * 300 }, (_, i) => (i * 7) % 300), [4 * 20, 15], 'int32');
      const step = () => {
        const { value, grads } = tf.variableGrads(() => {
          const x = tf.reshape(tf.gather(emb, idx), [80, 15, 16]);
          const h = tf.reshape(tf.matMul(tf.reshape(x, [-1, 16]), w), [80, 15, 4, 4]);
          const q = tf.transpose(h, [0, 2, 1, 3]);
          const s = tf.matMul(q, q, false, true);
          return tf.sum(tf.mul(tf.softmax(s), tf.sum(tf.transpose(tf.reshape(tf.matMul(x, w, false, true), [80, 15, 16]), [0, 2, 1])))) as tf.Scalar;
        }, [emb, w]);
        tf.dispose([value, ...Object.values(grads)]);
      };
      step();
      const before = { tensors: tf.memory().numTensors, buffers: tf.engine().backend.numDataIds() };
      step();
      step();
      assert.deepEqual({ tensors: tf.memory().numTensors, buffers: tf.engine().backend.numDataIds() }, before, `${backend}: buffers leaked`);
      tf.dispose([emb, w, idx]);
    }
  });
});

describe('reductions over non-innermost axes', () => {
  const cases: Array<[number[], number | number[] | undefined, boolean]> = [
    [[600, 24], 0, false], // long rows: two-step transpose on wasm
    [[600, 24], 0, true],
    [[6, 5, 4, 3], 1, false],
    [[6, 5, 4, 3], [0, 2], true],
    [[6, 5, 4, 3], -1, false], // innermost: stock path
    [[6, 5, 4, 3], undefined, false], // all axes
    [[7, 1, 9], [0, 1], false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    test(`[${shape}] axis ${JSON.stringify(axis)} keepDims ${keepDims}`, async () => {
      const x = randn(shape, 71);
      await compareWithStock('reductions', () => [
        tf.sum(t(x), axis, keepDims),
        tf.mean(t(x), axis, keepDims),
        tf.max(t(x), axis, keepDims),
        tf.min(t(x), axis, keepDims),
        tf.cast(tf.sum(tf.cast(tf.mul(t(x), 10), 'int32'), axis, keepDims), 'float32'),
      ]);
    });
  }
});
