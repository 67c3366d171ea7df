// Sum/Mean/Max/Min over axes that are not the innermost ones. The stock kernels on wasm and cpu
// first transpose the reduced axes to the end with their own (internal) transpose, which is slow
// on long rows: Sum over axis 0 of a [20480, 64] activation gradient (every bias and LayerNorm
// gain gradient) takes ~50 ms on wasm. Do the same transpose through the registered Transpose
// kernel (ours), then let the stock kernel reduce the now innermost axes: same arithmetic.
import * as tf from '@tensorflow/tfjs-core';
import { kernelIO } from './io.ts';

export function reduceConfig(kernelName: string) {
  return (backendName: string, stock: tf.KernelConfig | undefined): tf.KernelConfig => {
    if (!stock) throw new Error(`no stock ${kernelName} kernel for backend ${backendName} to delegate to`);
    return {
      kernelName,
      backendName,
      kernelFunc: (args) => {
        const x = args.inputs['x'];
        const transpose = tf.getKernel(tf.Transpose, backendName);
        if (!x || !transpose || (x.dtype !== 'float32' && x.dtype !== 'int32')) return stock.kernelFunc(args);
        const rank = x.shape.length;
        const raw = args.attrs?.['axis'] as number | number[] | null | undefined;
        const axes = tf.util.parseAxisParam(raw ?? x.shape.map((_, i) => i), x.shape);
        const perm = tf.backend_util.getAxesPermutation(axes, rank);
        if (perm === null) return stock.kernelFunc(args);
        const io = kernelIO(args.backend);
        const moved = transpose.kernelFunc({ ...args, inputs: { x }, attrs: { perm } }) as tf.TensorInfo;
        const inner = tf.backend_util.getInnerMostAxes(axes.length, rank);
        const out = stock.kernelFunc({ ...args, inputs: { x: moved }, attrs: { ...args.attrs, axis: inner, keepDims: false } }) as tf.TensorInfo;
        io.dispose(moved);
        const keepDims = Boolean(args.attrs?.['keepDims']);
        return keepDims ? { dataId: out.dataId, shape: tf.backend_util.expandShapeToKeepDim(out.shape, axes), dtype: out.dtype } : out;
      },
    };
  };
}
