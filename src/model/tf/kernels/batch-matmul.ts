// BatchMatMul forward for wasm. The stock wasm kernel reaches XNNPACK only for a single plain
// (untransposed) matrix product; with transposeA/transposeB or a batch it runs a naive loop that
// is up to ~10x slower. Two fast paths, both plain XNNPACK products over the same operands:
// - b is one matrix shared by every batch entry (dense layers on [B, T, d], every 2-D product):
//   fold a's batch into rows, materialise transposes (with our Transpose kernel), one 2-D call;
// - a real batch on both sides (attention): materialise transposes, then one 2-D call per batch
//   entry on slices of the wasm heap (registered as aliases of the operands, never copied).
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { kernelIO, sizeOf, type KernelIO } from './io.ts';

/** The parts of the emscripten module behind BackendWasm that the split path drives directly. */
interface RawWasm {
  cwrap(ident: string, returnType: string | null, argTypes: string[]): (...args: unknown[]) => unknown;
  tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void };
}

let rawMatMul: { wasm: RawWasm; call: (...args: unknown[]) => unknown } | undefined;

function rawBatchMatMul(backend: BackendWasm): { wasm: RawWasm; call: (...args: unknown[]) => unknown } {
  const wasm = (backend as unknown as { wasm: RawWasm }).wasm;
  if (!rawMatMul || rawMatMul.wasm !== wasm) {
    // Same signature the stock kernel binds: a_id, a_shape, a_rank, b_id, b_shape, b_rank, tA, tB, out_id.
    const call = wasm.cwrap(tf.BatchMatMul, null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    rawMatMul = { wasm, call };
  }
  return rawMatMul;
}

/** Runs the Transpose kernel registered for this backend (ours when installed). */
function transposeWith(io: KernelIO, x: tf.TensorInfo, perm: number[]): tf.TensorInfo | null {
  const kernel = tf.getKernel(tf.Transpose, 'wasm');
  if (!kernel) return null;
  return kernel.kernelFunc({ inputs: { x }, backend: io.backend, attrs: { perm } }) as tf.TensorInfo;
}

/**
 * Per-entry XNNPACK calls cost ~4 us of setup each; the stock loop runs ~0.4 GFLOP/s. Measured
 * break-even is near m*k*n = 2-4k multiply-adds per entry (stock wins at 11x16x11, loses at 16x16x16).
 */
const SPLIT_MIN_WORK = 4096;

export function batchMatMulConfig(backendName: string, stock: tf.KernelConfig | undefined): tf.KernelConfig {
  if (!stock) throw new Error(`no stock BatchMatMul kernel for backend ${backendName} to delegate to`);
  return {
    kernelName: tf.BatchMatMul,
    backendName,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a?: tf.TensorInfo; b?: tf.TensorInfo };
      if (!a || !b) throw new Error('BatchMatMul needs inputs a and b');
      const tA = Boolean(args.attrs?.['transposeA']);
      const tB = Boolean(args.attrs?.['transposeB']);
      const batchA = sizeOf(a.shape.slice(0, -2));
      const batchB = sizeOf(b.shape.slice(0, -2));
      const plain2d = batchA === 1 && !tA && !tB;
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || plain2d || a.shape.length < 2 || b.shape.length < 2) {
        return stock.kernelFunc(args);
      }
      if (batchB !== 1) {
        const sameBatch = batchA === batchB && a.shape.length === b.shape.length && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
        const work = a.shape[a.shape.length - 2]! * a.shape[a.shape.length - 1]! * (tB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!);
        if (!(args.backend instanceof BackendWasm) || !sameBatch || work < SPLIT_MIN_WORK) return stock.kernelFunc(args);
        return splitBatchMatMul(args.backend, kernelIO(args.backend), a, b, tA, tB) ?? stock.kernelFunc(args);
      }
      const ra = a.shape.length;
      const rb = b.shape.length;
      const m = tA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
      const k = tA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
      const kb = tB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
      const n = tB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
      if (k !== kb) {
        throw new Error(`Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${tA} and transposeB=${tB} must match.`);
      }
      const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));

      const io = kernelIO(args.backend);
      const temps: tf.TensorInfo[] = [];
      const swapLast = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
      let a2: tf.TensorInfo;
      if (tA) {
        const at = transposeWith(io, a, swapLast(ra));
        if (!at) return stock.kernelFunc(args);
        temps.push(at);
        a2 = io.reshape(at, [batchA * m, k]);
      } else a2 = io.reshape(a, [batchA * m, k]);
      temps.push(a2);
      let b2: tf.TensorInfo;
      if (tB) {
        const bt = transposeWith(io, b, swapLast(rb));
        if (!bt) {
          temps.forEach((t) => io.dispose(t));
          return stock.kernelFunc(args);
        }
        temps.push(bt);
        b2 = io.reshape(bt, [k, n]);
      } else b2 = io.reshape(b, [k, n]);
      temps.push(b2);
      const out = stock.kernelFunc({ ...args, inputs: { a: a2, b: b2 }, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
      temps.forEach((t) => io.dispose(t));
      return { dataId: out.dataId, shape: [...outBatch, m, n], dtype: out.dtype };
    },
  };
}

/** One XNNPACK product per batch entry, on heap slices of the (materialised) operands. */
function splitBatchMatMul(backend: BackendWasm, io: KernelIO, a: tf.TensorInfo, b: tf.TensorInfo, tA: boolean, tB: boolean): tf.TensorInfo | null {
  const r = a.shape.length;
  const swapLast = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  const m = tA ? a.shape[r - 1]! : a.shape[r - 2]!;
  const k = tA ? a.shape[r - 2]! : a.shape[r - 1]!;
  const kb = tB ? b.shape[r - 1]! : b.shape[r - 2]!;
  const n = tB ? b.shape[r - 2]! : b.shape[r - 1]!;
  if (k !== kb) return null; // the stock kernel reports the shape error
  const batch = sizeOf(a.shape.slice(0, -2));
  const temps: tf.TensorInfo[] = [];
  const release = () => temps.forEach((t) => io.dispose(t));
  let A = a;
  if (tA) {
    const t = transposeWith(io, a, swapLast);
    if (!t) return null;
    temps.push((A = t));
  }
  let B = b;
  if (tB) {
    const t = transposeWith(io, b, swapLast);
    if (!t) {
      release();
      return null;
    }
    temps.push((B = t));
  }
  // An empty inner dimension gives zeros: XNNPACK is not asked to multiply nothing.
  const out = io.alloc([...a.shape.slice(0, -2), m, n], 'float32', k === 0);
  if (batch * m * n * k > 0) {
    const { wasm, call } = rawBatchMatMul(backend);
    const aBase = backend.getMemoryOffset(A.dataId);
    const bBase = backend.getMemoryOffset(B.dataId);
    const oBase = backend.getMemoryOffset(out.dataId);
    const aShape = new Uint8Array(new Int32Array([1, m, k]).buffer);
    const bShape = new Uint8Array(new Int32Array([1, k, n]).buffer);
    const ids = backend as unknown as { dataIdNextNumber: number };
    for (let i = 0; i < batch; i++) {
      // Fresh ids every time: XNNPACK caches packed weights per b id until that id is disposed.
      const aId = ids.dataIdNextNumber++;
      const bId = ids.dataIdNextNumber++;
      const oId = ids.dataIdNextNumber++;
      wasm.tfjs.registerTensor(aId, m * k, aBase + i * m * k * 4);
      wasm.tfjs.registerTensor(bId, k * n, bBase + i * k * n * 4);
      wasm.tfjs.registerTensor(oId, m * n, oBase + i * m * n * 4);
      call(aId, aShape, 3, bId, bShape, 3, false, false, oId);
      wasm.tfjs.disposeData(aId);
      wasm.tfjs.disposeData(bId);
      wasm.tfjs.disposeData(oId);
    }
  }
  release();
  return out;
}
