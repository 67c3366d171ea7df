// UnsortedSegmentSum as one scatter-add pass over the input: O(input), where the stock cpu kernel
// builds a mask per segment (O(numSegments x input)) and wasm has no kernel at all. tf.gather's
// gradient is built on it, so this is what makes embedding tables trainable.
import * as tf from '@tensorflow/tfjs-core';
import { kernelIO, sizeOf, type NumericDType } from './io.ts';

export function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x?: tf.TensorInfo; segmentIds?: tf.TensorInfo };
  const numSegments = Number(args.attrs?.['numSegments']);
  if (!x || !segmentIds) throw new Error('UnsortedSegmentSum needs inputs x and segmentIds');
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${String(args.attrs?.['numSegments'])}`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  if (segmentIds.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`);
  const idRank = segmentIds.shape.length;
  for (let i = 0; i < idRank; i++) {
    if (segmentIds.shape[i] !== x.shape[i]) {
      throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(',')}] is not a prefix of x shape [${x.shape.join(',')}]`);
    }
  }
  const inner = x.shape.slice(idRank);
  const row = sizeOf(inner);
  const rows = sizeOf(segmentIds.shape);

  const io = kernelIO(args.backend);
  const out = io.alloc([numSegments, ...inner], x.dtype as NumericDType, true);
  const o = io.view(out);
  const xs = io.view(x);
  const ids = io.view(segmentIds);
  for (let r = 0; r < rows; r++) {
    const s = ids[r]!;
    // Negative ids are dropped, as in TensorFlow; ids past the end are a caller bug, never silently lost.
    if (s < 0) continue;
    if (s >= numSegments) throw new Error(`UnsortedSegmentSum: segment id ${s} at position ${r} is out of range [0, ${numSegments})`);
    const src = r * row;
    const dst = s * row;
    for (let j = 0; j < row; j++) o[dst + j]! += xs[src + j]!;
  }
  return out;
}

export function unsortedSegmentSumConfig(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.UnsortedSegmentSum,
    backendName,
    kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
  };
}
