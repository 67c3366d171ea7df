// Forward kernels that replace stock ones on wasm/cpu where measurements show a gain.
import type * as tf from '@tensorflow/tfjs-core';

export function fastKernelConfigs(_backendName: string): tf.KernelConfig[] {
  return [];
}
