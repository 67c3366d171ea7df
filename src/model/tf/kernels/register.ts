// Installs (and can remove again, for before/after measurements and tests) the kernels and
// gradients that make training fast on the wasm and cpu backends. Kernels are per backend;
// gradients are global in tfjs, so ours check at backprop time whether the active backend has
// them enabled and otherwise behave like the stock ones.
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulGradConfig } from './batch-matmul-grad.ts';
import { gatherGradConfig } from './gather-grad.ts';
import { fastKernelOverrides } from './fast-kernels.ts';

const KERNEL_BACKENDS = new Set(['wasm', 'cpu']);

const enabled = new Set<string>();
const stockKernels = new Map<string, tf.KernelConfig | undefined>();
let stockGradients: Map<string, tf.GradConfig | undefined> | undefined;

/** Backends that currently run the fast kernels and gradients. */
export function fastKernelsEnabled(backendName: string): boolean {
  return enabled.has(backendName);
}

/**
 * Registers the fast kernels for `backendName` (wasm and cpu; other backends get only the
 * gradients). Call after the backend is initialised: the replaced stock kernels' setup must
 * already have run, since ours delegate to them for cases they do not speed up. Idempotent.
 */
export function registerFastKernels(backendName: string): void {
  if (enabled.has(backendName)) return;
  installGradients();
  if (KERNEL_BACKENDS.has(backendName)) {
    for (const override of fastKernelOverrides(backendName)) {
      const key = `${backendName}/${override.kernelName}`;
      const stock = tf.getKernel(override.kernelName, backendName);
      const config = override.make(backendName, stock);
      stockKernels.set(key, stock);
      if (stock) tf.unregisterKernel(override.kernelName, backendName);
      tf.registerKernel(stock?.setupFunc ? { ...config, setupFunc: stock.setupFunc } : config);
    }
  }
  enabled.add(backendName);
}

/** Restores the stock kernels of `backendName` (and the stock gradients when no backend is left). */
export function unregisterFastKernels(backendName: string): void {
  if (!enabled.has(backendName)) return;
  for (const [key, stock] of stockKernels) {
    const [backend, kernelName] = key.split('/') as [string, string];
    if (backend !== backendName) continue;
    tf.unregisterKernel(kernelName, backendName);
    if (stock) tf.registerKernel(stock);
    stockKernels.delete(key);
  }
  enabled.delete(backendName);
  if (enabled.size === 0) uninstallGradients();
}

function installGradients(): void {
  if (stockGradients) return;
  const stockMatMul = tf.getGradient(tf.BatchMatMul);
  const stockGather = tf.getGradient(tf.GatherV2);
  stockGradients = new Map([
    [tf.BatchMatMul, stockMatMul],
    [tf.GatherV2, stockGather],
  ]);
  const overrides: tf.GradConfig[] = [
    batchMatMulGradConfig(),
    gatherGradConfig(stockGather),
  ];
  for (const config of overrides) {
    if (tf.getGradient(config.kernelName)) tf.unregisterGradient(config.kernelName);
    tf.registerGradient(config);
  }
}

function uninstallGradients(): void {
  if (!stockGradients) return;
  for (const [kernelName, stock] of stockGradients) {
    tf.unregisterGradient(kernelName);
    if (stock) tf.registerGradient(stock);
  }
  stockGradients = undefined;
}
