// Tile. The Sum/Mean gradients (src/model/student/reduction-gradients.ts) broadcast dy back over the
// reduced axes with Tile, and the stock kernels compute every output element's source index
// separately: tiling a [153,12,4,16,1] attention-score gradient 12x took ~180 ms on wasm, most of a
// training step. Ours merges axes the tiling leaves alone, then copies whole rows (or fills for a
// single-element innermost block) and replicates finished blocks with copyWithin. Plain copies: the
// values are exactly the stock ones.
import * as tf from '@tensorflow/tfjs-core';
import { kernelIO, sizeOf, type NumericArray } from './io.ts';

/** Input dims and reps with neighbouring untiled axes merged and size-1 untiled axes dropped. */
export function tileForm(shape: readonly number[], reps: readonly number[]): { dims: number[]; reps: number[] } {
  const dims: number[] = [];
  const rs: number[] = [];
  shape.forEach((n, i) => {
    const r = reps[i]!;
    if (n === 1 && r === 1) return;
    const last = dims.length - 1;
    if (r === 1 && last >= 0 && rs[last] === 1) dims[last]! *= n;
    else {
      dims.push(n);
      rs.push(r);
    }
  });
  if (dims.length === 0) return { dims: [1], reps: [1] };
  return { dims, reps: rs };
}

/** Fills `out` with x tiled by `reps` (shapes in the merged form of tileForm). */
export function tileCopy(x: NumericArray, out: NumericArray, dims: readonly number[], reps: readonly number[]): void {
  const rank = dims.length;
  const inStride = new Array<number>(rank);
  const outStride = new Array<number>(rank);
  let si = 1;
  let so = 1;
  for (let a = rank - 1; a >= 0; a--) {
    inStride[a] = si;
    outStride[a] = so;
    si *= dims[a]!;
    so *= dims[a]! * reps[a]!;
  }
  const L = dims[rank - 1]!;
  const R = reps[rank - 1]!;
  const rec = (a: number, inOff: number, outOff: number): void => {
    if (a === rank - 1) {
      if (L === 1) {
        const v = x[inOff]!;
        for (let r = 0; r < R; r++) out[outOff + r] = v;
      } else if (L < 64) {
        for (let r = 0, o = outOff; r < R; r++) for (let j = 0; j < L; j++) out[o++] = x[inOff + j]!;
      } else {
        out.set(x.subarray(inOff, inOff + L), outOff);
        for (let r = 1; r < R; r++) out.copyWithin(outOff + r * L, outOff, outOff + L);
      }
      return;
    }
    const n = dims[a]!;
    for (let i = 0; i < n; i++) rec(a + 1, inOff + i * inStride[a]!, outOff + i * outStride[a]!);
    const block = n * outStride[a]!;
    for (let r = 1; r < reps[a]!; r++) out.copyWithin(outOff + r * block, outOff, outOff + block);
  };
  rec(0, 0, 0);
}

export function tileConfig(backendName: string, stock: tf.KernelConfig | undefined): tf.KernelConfig {
  return {
    kernelName: tf.Tile,
    backendName,
    kernelFunc: (args) => {
      const x = args.inputs['x'];
      const reps = args.attrs?.['reps'] as number[] | undefined;
      if (!x || !reps || (x.dtype !== 'float32' && x.dtype !== 'int32') || reps.length !== x.shape.length) {
        if (!stock) throw new Error(`no Tile kernel for this input on backend ${backendName}`);
        return stock.kernelFunc(args);
      }
      const io = kernelIO(args.backend);
      const outShape = x.shape.map((n, i) => n * reps[i]!);
      const out = io.alloc(outShape, x.dtype);
      if (sizeOf(outShape) === 0) return out;
      const form = tileForm(x.shape, reps);
      tileCopy(io.view(x), io.view(out), form.dims, form.reps);
      return out;
    },
  };
}
