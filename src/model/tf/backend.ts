// Picks the tfjs training backend at run time: native TensorFlow (tfjs-node-gpu, then tfjs-node)
// when installed and loadable, else the wasm backend (SIMD), else the plain-JS cpu backend.
// Everything else imports tfjs as `import * as tf from '@tensorflow/tfjs-core'`; the backend
// packages' Node entries require that same CommonJS copy, so they register into one engine.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerCoreExtensions } from './core-extensions.ts';
import { registerFastKernels } from './kernels/register.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu'; // 'tensorflow' = tfjs-node-gpu / tfjs-node
export interface BackendInfo {
  name: BackendName;
  gpu: boolean;
  fellBackFrom: Array<{ name: BackendName; reason: string }>;
}

export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** Parses a `--backend` option value; throws a message naming the allowed values. */
export function parseBackendChoice(value: string): BackendName | 'auto' {
  if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName | 'auto';
  throw new Error(`unknown backend '${value}': expected one of auto, ${BACKEND_NAMES.join(', ')}`);
}

const require = createRequire(import.meta.url);

// Native packages, best first. Kept out of static imports: they are optional and usually absent.
const NATIVE_PACKAGES: ReadonlyArray<{ pkg: string; gpu: boolean }> = [
  { pkg: '@tensorflow/tfjs-node-gpu', gpu: true },
  { pkg: '@tensorflow/tfjs-node', gpu: false },
];

let nativeLoaded: Promise<{ gpu: boolean }> | undefined;
let wasmPathsSet = false;
let chosen: BackendInfo | undefined;
let chosenFor: string | undefined;

/**
 * Picks and initialises a backend (preference order tensorflow(gpu) > wasm > cpu unless `prefer`
 * is given, in which case `prefer` is tried first and the others follow in that order), registers
 * the tfjs-core gradients and the fast kernels/gradients, makes it the active backend and returns
 * what it chose. Idempotent: a repeated call with the same preference returns the same answer.
 */
export async function initBackend(prefer: BackendName | 'auto' = 'auto'): Promise<BackendInfo> {
  if (chosen && chosenFor === prefer) {
    if (tf.getBackend() !== chosen.name) await activate(chosen.name);
    return chosen;
  }
  registerCoreExtensions();
  const order: BackendName[] = prefer === 'auto' ? [...BACKEND_NAMES] : [prefer, ...BACKEND_NAMES.filter((n) => n !== prefer)];
  const fellBackFrom: BackendInfo['fellBackFrom'] = [];
  for (const name of order) {
    try {
      const gpu = await prepare(name);
      await activate(name);
      registerFastKernels(name);
      chosen = { name, gpu, fellBackFrom };
      chosenFor = prefer;
      return chosen;
    } catch (err) {
      fellBackFrom.push({ name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${fellBackFrom.map((f) => `${f.name}: ${f.reason}`).join('; ')}`);
}

/** Loads what a backend needs before tf.setBackend can succeed; returns whether it runs on a GPU. */
async function prepare(name: BackendName): Promise<boolean> {
  switch (name) {
    case 'tensorflow':
      nativeLoaded ??= loadNative();
      return (await nativeLoaded).gpu;
    case 'wasm':
      if (!wasmPathsSet) {
        // The .wasm binaries ship inside the npm package: point the loader at that directory, never a URL.
        const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
        setWasmPaths(dir + path.sep);
        wasmPathsSet = true;
      }
      return false;
    case 'cpu':
      return false;
  }
}

async function loadNative(): Promise<{ gpu: boolean }> {
  const reasons: string[] = [];
  for (const { pkg, gpu } of NATIVE_PACKAGES) {
    try {
      // A variable specifier keeps TypeScript from requiring the optional package's types.
      const specifier: string = pkg;
      await import(specifier);
    } catch (err) {
      // An opt-in extra (README, "Optional extras"): on a GPU machine, `npm install --no-save @tensorflow/tfjs-node-gpu@4.22`.
      reasons.push(`${pkg} not loadable (${firstLine(err)}; an opt-in extra: npm install --no-save ${pkg}@4.22)`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') === null) {
      reasons.push(`${pkg} loaded but registered into another copy of @tensorflow/tfjs-core (version mismatch)`);
      continue;
    }
    return { gpu };
  }
  throw new Error(reasons.join('; '));
}

/** tf.setBackend only logs why an init failed; capture that log so the caller can report it. */
async function activate(name: BackendName): Promise<void> {
  if (tf.findBackendFactory(name) === null) throw new Error(`backend '${name}' is not registered`);
  const warnings: string[] = [];
  const originalWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
  };
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } finally {
    console.warn = originalWarn;
  }
  if (!ok) throw new Error(warnings.filter((w) => w.trim() !== '').map((w) => w.split('\n')[0]).join(': ') || `tf.setBackend('${name}') failed`);
  for (const w of warnings) originalWarn(w);
  if (name === 'cpu') silenceCpuNodeAdvice();
}

// The cpu backend prints "install tfjs-node" advice on its first write; we chose cpu knowingly.
function silenceCpuNodeAdvice(): void {
  const backend = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (backend && 'firstUse' in backend) backend.firstUse = false;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}
