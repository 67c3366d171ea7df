// Raw buffer access for the hand-written kernels, on the two backends they are registered for.
// wasm tensors live in the module heap, which can grow (and move) on every allocation: allocate
// all outputs first, then take input views, and never keep a view across another allocation.
import type * as tf from '@tensorflow/tfjs-core';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

export type NumericArray = Float32Array | Int32Array;
export type NumericDType = 'float32' | 'int32';

export interface KernelIO {
  readonly backend: tf.KernelBackend;
  /** Allocates an output tensor; zero-filled when `zero` is set. */
  alloc(shape: number[], dtype: NumericDType, zero?: boolean): tf.TensorInfo;
  /** A view of a tensor's values (inputs and outputs alike). */
  view(t: tf.TensorInfo): NumericArray;
  /** The same data under another shape (no copy); release it with `dispose`. */
  reshape(t: tf.TensorInfo, shape: number[]): tf.TensorInfo;
  /** Releases a temporary made by `alloc` or `reshape`. */
  dispose(t: tf.TensorInfo): void;
}

export function kernelIO(backend: unknown): KernelIO {
  if (backend instanceof BackendWasm) {
    return {
      backend,
      alloc(shape, dtype, zero) {
        const out = backend.makeOutput(shape, dtype);
        if (zero) (backend.typedArrayFromHeap(out) as NumericArray).fill(0);
        return out;
      },
      view(t) {
        return numeric(backend.typedArrayFromHeap(t), t);
      },
      reshape: (t, shape) => reshaped(backend, t, shape),
      dispose(t) {
        backend.disposeData(t.dataId);
      },
    };
  }
  if (backend instanceof MathBackendCPU) {
    return {
      backend,
      alloc(shape, dtype) {
        const size = shape.reduce((a, b) => a * b, 1);
        const values = dtype === 'float32' ? new Float32Array(size) : new Int32Array(size);
        return backend.makeTensorInfo(shape, dtype, values);
      },
      view(t) {
        const values = backend.data.get(t.dataId)?.values;
        if (values === undefined) throw new Error(`tensor ${String(t.dataId)} has no data on the cpu backend`);
        return numeric(values, t);
      },
      reshape: (t, shape) => reshaped(backend, t, shape),
      dispose(t) {
        backend.disposeData(t.dataId);
      },
    };
  }
  throw new Error('leader-cds fast kernels run on the wasm and cpu backends only');
}

function reshaped(backend: BackendWasm | MathBackendCPU, t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  if (sizeOf(shape) !== sizeOf(t.shape)) throw new Error(`cannot view shape [${t.shape.join(',')}] as [${shape.join(',')}]`);
  backend.incRef(t.dataId);
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

function numeric(values: unknown, t: tf.TensorInfo): NumericArray {
  if (values instanceof Float32Array || values instanceof Int32Array) return values;
  throw new Error(`expected float32 or int32 data, got dtype ${t.dtype}`);
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
