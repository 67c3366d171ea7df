// Shared set-up for the teacher tests: one backend, tiny configs, float comparisons.
import assert from 'node:assert/strict';
import { initBackend } from '../../src/model/tf/backend.ts';
import { smallConfig, type DecoderConfig } from '../../src/teacher/config.ts';

let ready: Promise<unknown> | undefined;

/** wasm (the CPU training backend; initBackend falls back to cpu if it cannot load). */
export function backend(): Promise<unknown> {
  ready ??= initBackend('wasm');
  return ready;
}

export function tinyConfig(overrides: Partial<DecoderConfig> = {}): DecoderConfig {
  return smallConfig(61, {
    hiddenSize: 32,
    intermediateSize: 48,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
    maxPositions: 64,
    tieWordEmbeddings: true,
    ...overrides,
  });
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}: max difference ${worst} at ${at} exceeds ${tol} (${actual[at]} vs ${expected[at]})`);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
