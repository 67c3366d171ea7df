// Forward kernels that replace stock ones where measurements showed a gain (bench/tf-kernels.ts).
import * as tf from '@tensorflow/tfjs-core';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.ts';
import { gatherConfig } from './gather.ts';
import { transposeConfig } from './transpose.ts';
import { batchMatMulConfig } from './batch-matmul.ts';
import { identityConfig } from './identity.ts';
import { reduceConfig } from './reduce.ts';
import { tileConfig } from './tile.ts';

export interface KernelOverride {
  kernelName: string;
  /** Builds the replacement; `stock` is the kernel it replaces, for the cases it delegates. */
  make(backendName: string, stock: tf.KernelConfig | undefined): tf.KernelConfig;
}

export function fastKernelOverrides(backendName: string): KernelOverride[] {
  const common: KernelOverride[] = [
    { kernelName: tf.UnsortedSegmentSum, make: (name) => unsortedSegmentSumConfig(name) },
    { kernelName: tf.GatherV2, make: gatherConfig },
    { kernelName: tf.Transpose, make: transposeConfig },
    { kernelName: tf.Tile, make: tileConfig },
    ...[tf.Sum, tf.Mean, tf.Max, tf.Min].map((kernelName) => ({ kernelName, make: reduceConfig(kernelName) })),
  ];
  // The cpu backend's matMul is plain JS with strided access: folding and transposing gains nothing there.
  if (backendName === 'wasm') {
    common.push({ kernelName: tf.BatchMatMul, make: batchMatMulConfig });
    // cpu's Identity already shares the buffer.
    common.push({ kernelName: tf.Identity, make: identityConfig });
  }
  return common;
}
