// Transpose. matMul gradients and attention head splits transpose every step. Any permutation
// that reduces to "swap two adjacent axis groups" ([B, M, N, K] -> [B, N, M, K]: plain and
// batched 2-D transposes, the [0, 2, 1, 3] head split) has a fast path: on cpu a cache-blocked
// copy (the stock kernel computes every element's index separately), on wasm a two-step use of
// the stock kernel for long 2-D transposes. Other permutations go to the stock kernel.
import * as tf from '@tensorflow/tfjs-core';
import { kernelIO, sizeOf, type KernelIO, type NumericArray, type NumericDType } from './io.ts';

const TILE = 32;

/** [B, M, N, K] layout of a transpose that swaps two adjacent axis groups, or null. */
export function swapForm(shape: readonly number[], perm: readonly number[]): [number, number, number, number] | null {
  // Drop size-1 axes: they do not change the memory order.
  const kept = perm.filter((ax) => shape[ax] !== 1);
  const rank = [...kept].sort((a, b) => a - b);
  let p = kept.map((ax) => rank.indexOf(ax));
  let dims = rank.map((ax) => shape[ax]!);
  // Merge input axes that stay adjacent and in order in the output.
  for (let j = 0; j + 1 < p.length; ) {
    const a = p[j]!;
    if (p[j + 1] === a + 1) {
      dims = [...dims.slice(0, a), dims[a]! * dims[a + 1]!, ...dims.slice(a + 2)];
      p = p.filter((_, i) => i !== j + 1).map((ax) => (ax > a ? ax - 1 : ax));
    } else j++;
  }
  const r = p.length;
  if (r <= 1) return [1, 1, dims[0] ?? 1, 1]; // identity copy: as a [1, 1, N, 1] "swap"
  const is = (q: number[]) => r === q.length && q.every((v, i) => p[i] === v);
  if (is([1, 0])) return [1, dims[0]!, dims[1]!, 1];
  if (is([0, 2, 1])) return [dims[0]!, dims[1]!, dims[2]!, 1];
  if (is([1, 0, 2])) return [1, dims[0]!, dims[1]!, dims[2]!];
  if (is([0, 2, 1, 3])) return [dims[0]!, dims[1]!, dims[2]!, dims[3]!];
  return null;
}

/** out[b, n, m, k] = x[b, m, n, k] into a preallocated output. */
export function swapCopy(x: NumericArray, out: NumericArray, B: number, M: number, N: number, K: number): void {
  if (K === 1) {
    const mn = M * N;
    for (let b = 0; b < B; b++) {
      const base = b * mn;
      for (let m0 = 0; m0 < M; m0 += TILE) {
        const m1 = Math.min(M, m0 + TILE);
        for (let n0 = 0; n0 < N; n0 += TILE) {
          const n1 = Math.min(N, n0 + TILE);
          for (let m = m0; m < m1; m++) {
            const src = base + m * N;
            for (let n = n0; n < n1; n++) out[base + n * M + m] = x[src + n]!;
          }
        }
      }
    }
    return;
  }
  for (let b = 0; b < B; b++) {
    const base = b * M * N * K;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const src = base + (m * N + n) * K;
        const dst = base + (n * M + m) * K;
        for (let k = 0; k < K; k++) out[dst + k] = x[src + k]!;
      }
    }
  }
}

/** Transposes with the fast path when it applies; returns null when it does not (cpu). */
export function fastTranspose(io: KernelIO, x: tf.TensorInfo, perm: readonly number[]): tf.TensorInfo | null {
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
  const form = swapForm(x.shape, perm);
  if (!form) return null;
  const out = io.alloc(perm.map((ax) => x.shape[ax]!), x.dtype as NumericDType);
  if (sizeOf(x.shape) > 0) swapCopy(io.view(x), io.view(out), ...form);
  return out;
}

// wasm's own kernel is fast (about memory speed) on batched small transposes and on swaps with a
// contiguous inner block, but slow on a plain transpose with a long side (~50 ms for [20480, 64]:
// strided writes across the whole output). Split the rows M = M1 * M2 and do it in two such fast
// steps: [B, M1, M2, N] -> [B, M1, N, M2] -> [B, N, M1, M2]. Pure copies, bit-identical. (With a
// long N instead the stock kernel is already fast.)
const LONG_SIDE = 256;
const BLOCKS = [32, 16, 64, 8];

function twoStepTranspose(io: KernelIO, args: KernelArgs, stock: tf.KernelConfig, x: tf.TensorInfo, form: [number, number, number, number], outShape: number[]): tf.TensorInfo | null {
  const [B, M, N] = form;
  const block = BLOCKS.find((b) => M % b === 0 && M / b > 1);
  if (block === undefined) return null;
  const run = (t: tf.TensorInfo, perm: number[]) => stock.kernelFunc({ ...args, inputs: { x: t }, attrs: { perm } }) as tf.TensorInfo;
  const v = io.reshape(x, [B * (M / block), block, N]);
  const s1 = run(v, [0, 2, 1]); // [B*M1, N, M2]
  const v2 = io.reshape(s1, [B, M / block, N, block]);
  const result = run(v2, [0, 2, 1, 3]); // [B, N, M1, M2]
  for (const t of [v, s1, v2]) io.dispose(t);
  return { dataId: result.dataId, shape: outShape, dtype: result.dtype };
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

export function transposeConfig(backendName: string, stock: tf.KernelConfig | undefined): tf.KernelConfig {
  if (!stock) throw new Error(`no stock Transpose kernel for backend ${backendName} to delegate to`);
  return {
    kernelName: tf.Transpose,
    backendName,
    kernelFunc: (args) => {
      const x = args.inputs['x'];
      const perm = args.attrs?.['perm'] as number[] | undefined;
      if (x && perm && (x.dtype === 'float32' || x.dtype === 'int32') && sizeOf(x.shape) > 0) {
        const io = kernelIO(args.backend);
        if (backendName === 'wasm') {
          const form = swapForm(x.shape, perm);
          if (form && form[3] === 1 && form[1] >= LONG_SIDE && form[1] >= form[2]) {
            const out = twoStepTranspose(io, args, stock, x, form, perm.map((ax) => x.shape[ax]!));
            if (out) return out;
          }
        } else {
          const out = fastTranspose(io, x, perm);
          if (out) return out;
        }
      }
      return stock.kernelFunc(args);
    },
  };
}
