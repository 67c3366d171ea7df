// Before/after micro-benchmark of the training kernels (src/model/tf/kernels) on wasm and cpu:
// an embedding-gradient step, a pre-LayerNorm transformer block forward+backward shaped like the
// LEADER student's per-encounter set encoder (d=64, batch 64 patients x 10 encounters x 32 codes),
// and the individual kernels. Stock and fast runs alternate so that machine load hits both alike.
//   npm run bench:tf-kernels -- [--backends wasm,cpu] [--reps 7] [--patients 64] [--visits 10] [--codes 32]
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, type BackendName } from '../src/model/tf/backend.ts';
import { fastKernelsEnabled, registerFastKernels, unregisterFastKernels } from '../src/model/tf/kernels/register.ts';

const { values: opts } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    reps: { type: 'string', default: '7' },
    'cpu-reps': { type: 'string', default: '3' },
    patients: { type: 'string', default: '64' },
    visits: { type: 'string', default: '10' },
    codes: { type: 'string', default: '32' },
    vocab: { type: 'string', default: '2000' },
    dim: { type: 'string', default: '64' },
  },
});

function int(name: keyof typeof opts): number {
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer, got ${String(opts[name])}`);
  return v;
}

const P = int('patients');
const N = P * int('visits'); // sequences: one code set per patient encounter
const S = int('codes');
const D = int('dim');
const V = int('vocab');
const HEADS = 4;
const FF = 300;
const backends = String(opts.backends).split(',') as BackendName[];

type Mode = 'stock' | 'fast';
const BUDGET_MS = 20_000;

function setMode(mode: Mode, backend: BackendName): void {
  if (mode === 'fast') registerFastKernels(backend);
  // Gradients are global in tfjs: stock means no backend keeps the overrides.
  else for (const b of ['wasm', 'cpu', 'tensorflow']) if (fastKernelsEnabled(b)) unregisterFastKernels(b);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Case {
  name: string;
  /** Patients per call, to report samples/s; 0 for kernels. */
  samples: number;
  run: () => void;
}

function cases(): { cases: Case[]; dispose: () => void } {
  const p = (shape: number[]) => tf.variable(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 7), 0.1));
  const W = {
    emb: p([V, D]),
    wq: p([D, D]), wk: p([D, D]), wv: p([D, D]), wo: p([D, D]),
    f1: p([D, FF]), f2: p([FF, D]),
    g1: p([D]), b1: p([D]), g2: p([D]), b2: p([D]),
  };
  const idx = tf.randomUniform([N * S], 0, V, 'int32', 8);
  const x0 = tf.randomNormal([N, S, D], 0, 1, 'float32', 9);
  const mask = tf.cast(tf.greater(tf.randomUniform([N, S], 0, 1, 'float32', 10), 0.3), 'float32');
  const wEmb = tf.randomNormal([N * S, D], 0, 1, 'float32', 11);
  const big = tf.randomNormal([N * S, D], 0, 1, 'float32', 12);
  const sq = tf.randomNormal([D, D], 0, 1, 'float32', 13);
  const dh = D / HEADS;

  const linear = (x: tf.Tensor, w: tf.Tensor) =>
    tf.reshape(tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]!]), w), [...x.shape.slice(0, -1), w.shape[1]!]);
  const layerNorm = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
  };
  const block = (x: tf.Tensor) => {
    const h = layerNorm(x, W.g1, W.b1);
    const split = (w: tf.Tensor) => tf.transpose(tf.reshape(linear(h, w), [N, S, HEADS, dh]), [0, 2, 1, 3]);
    const q = split(W.wq);
    const k = split(W.wk);
    const v = split(W.wv);
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), tf.reshape(tf.mul(tf.sub(mask, 1), 1e9), [N, 1, 1, S]));
    const o = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [N, S, D]);
    const x1 = tf.add(x, linear(o, W.wo));
    const y = tf.add(x1, linear(tf.relu(linear(layerNorm(x1, W.g2, W.b2), W.f1)), W.f2));
    const pooled = tf.div(tf.sum(tf.mul(y, tf.expandDims(mask, -1)), 1), tf.expandDims(tf.maximum(tf.sum(mask, 1), 1), -1));
    return tf.mean(tf.square(pooled)) as tf.Scalar;
  };
  const blockVars = [W.wq, W.wk, W.wv, W.wo, W.f1, W.f2, W.g1, W.b1, W.g2, W.b2];
  const step = (loss: () => tf.Scalar, vars: tf.Variable[]) => () => {
    const { value, grads } = tf.variableGrads(loss, vars);
    // Reading one value forces any deferred work; wasm and cpu are synchronous anyway.
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const kernel = (f: () => tf.Tensor) => () => tf.dispose(tf.tidy(f));

  const all: Case[] = [
    { name: `embedding gradient step: gather [${V},${D}] by ${N * S} ids + backprop`, samples: P,
      run: step(() => tf.sum(tf.mul(tf.gather(W.emb, idx), wEmb)) as tf.Scalar, [W.emb]) },
    { name: `transformer block fwd+bwd [${N},${S},${D}]`, samples: P, run: step(() => block(x0), blockVars) },
    { name: `student-like step: embedding + block fwd+bwd`, samples: P,
      run: step(() => block(tf.reshape(tf.gather(W.emb, idx), [N, S, D])), [W.emb, ...blockVars]) },
    { name: `GatherV2 [${V},${D}] x ${N * S}`, samples: 0, run: kernel(() => tf.gather(W.emb, idx)) },
    { name: `UnsortedSegmentSum ${N * S}x${D} -> ${V}`, samples: 0, run: kernel(() => tf.unsortedSegmentSum(big, idx as tf.Tensor1D, V)) },
    { name: `Transpose [${N * S},${D}]`, samples: 0, run: kernel(() => tf.transpose(big)) },
    { name: `matMul [${N * S},${D}]ᵀ x [${N * S},${D}] (weight grad)`, samples: 0, run: kernel(() => tf.matMul(big, big, true, false)) },
    { name: `matMul [${N * S},${D}] x [${D},${D}]ᵀ (input grad)`, samples: 0, run: kernel(() => tf.matMul(big, sq, false, true)) },
    { name: `matMul [${N},${S},${D}] x [${D},${D}] (broadcast dense)`, samples: 0, run: kernel(() => tf.matMul(x0, sq)) },
    { name: `matMul [${N * HEADS},${S},${dh}] x same ᵀ (attention)`, samples: 0,
      run: kernel(() => { const q = tf.reshape(x0, [N * HEADS, S, dh]); return tf.matMul(q, q, false, true); }) },
  ];
  return { cases: all, dispose: () => tf.dispose([...Object.values(W), idx, x0, mask, wEmb, big, sq]) };
}

function tryRun(c: Case): number | string {
  const t0 = performance.now();
  try {
    c.run();
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 70);
  }
  return performance.now() - t0;
}

console.log(`tf-kernels bench: d=${D}, ${P} patients x ${N / P} encounters x ${S} codes, vocab ${V}; node ${process.version}`);
for (const backend of backends) {
  const info = await initBackend(backend);
  if (info.name !== backend) {
    console.log(`\n${backend}: unavailable (${info.fellBackFrom.map((f) => f.reason).join('; ')})`);
    continue;
  }
  const reps = backend === 'cpu' ? int('cpu-reps') : int('reps');
  const { cases: list, dispose } = cases();
  const times = new Map<string, { stock: number[]; fast: number[]; failed?: string }>();
  for (const c of list) times.set(c.name, { stock: [], fast: [] });
  for (let r = -1; r < reps; r++) {
    for (const mode of ['stock', 'fast'] as const) {
      setMode(mode, backend);
      for (const c of list) {
        const entry = times.get(c.name)!;
        // The stock cpu embedding gradient takes tens of seconds a call: past the budget, one sample is enough.
        if (entry[mode].reduce((a, b) => a + b, 0) > BUDGET_MS || (mode === 'stock' && entry.failed)) continue;
        const t = tryRun(c);
        // The first round warms up (JIT, XNNPACK operator caches) unless a call is slow enough not to care.
        if (r < 0 && (typeof t !== 'number' || t < BUDGET_MS / 4)) {
          if (typeof t !== 'number' && mode === 'stock') entry.failed = t;
          if (typeof t !== 'number' && mode === 'fast') throw new Error(`${c.name} failed with the fast kernels on ${backend}: ${t}`);
          continue;
        }
        if (typeof t === 'number') entry[mode].push(t);
        else if (mode === 'stock') entry.failed = t;
        else throw new Error(`${c.name} failed with the fast kernels on ${backend}: ${t}`);
      }
    }
  }
  registerFastKernels(backend);
  dispose();
  console.log(`\n${backend} (median of ${reps}; ms)`);
  console.log(`${'case'.padEnd(66)} ${'stock'.padStart(9)} ${'fast'.padStart(9)} ${'speed-up'.padStart(9)}  samples/s (stock -> fast)`);
  for (const c of list) {
    const e = times.get(c.name)!;
    const fast = median(e.fast);
    const stock = e.stock.length ? median(e.stock) : NaN;
    const stockText = e.failed ? 'fails' : stock.toFixed(1);
    const ratio = e.failed ? 'n/a' : `${(stock / fast).toFixed(2)}x`;
    const rate = c.samples ? `${e.failed ? '-' : ((c.samples * 1000) / stock).toFixed(0)} -> ${((c.samples * 1000) / fast).toFixed(0)}` : '';
    console.log(`${c.name.padEnd(66)} ${stockText.padStart(9)} ${fast.toFixed(1).padStart(9)} ${ratio.padStart(9)}  ${rate}`);
    if (e.failed) console.log(`${''.padEnd(4)}stock failure: ${e.failed}`);
  }
}
