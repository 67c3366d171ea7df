// Adam with the whole update in one JS loop per parameter. tf.train.adam runs ~14 small kernels per
// variable per step (~1,000 for the student), and on wasm/cpu per-kernel overhead, not arithmetic,
// is what they cost. Here each gradient is read once (a copy out of the backend), m and v live in
// plain Float32Arrays, and each variable gets one assign. The maths is tfjs's AdamOptimizer:
// epsilon 1e-7 (tfjs's float32 backend epsilon), bias correction by running products beta^t kept in
// float32 as tfjs keeps them, and every state value rounded to float32 as tfjs stores it.
import * as tf from '@tensorflow/tfjs-core';

export interface AdamSettings {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** tfjs's default for float32 backends (ENGINE.backend.epsilon()). */
export const ADAM_EPSILON = 1e-7;

export class FusedAdam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly moments = new Map<tf.Variable, { m: Float32Array; v: Float32Array }>();
  private accBeta1: number;
  private accBeta2: number;
  private steps = 0;

  constructor(settings: AdamSettings) {
    this.learningRate = settings.learningRate;
    this.beta1 = settings.beta1 ?? 0.9;
    this.beta2 = settings.beta2 ?? 0.999;
    this.epsilon = settings.epsilon ?? ADAM_EPSILON;
    this.accBeta1 = Math.fround(this.beta1);
    this.accBeta2 = Math.fround(this.beta2);
  }

  get iterations(): number {
    return this.steps;
  }

  /**
   * One Adam step. `grads` maps variable names (tf.variableGrads' keys) to gradients; variables
   * without a gradient are left alone, as tfjs does. The gradients are not disposed here.
   */
  apply(variables: Iterable<tf.Variable>, grads: tf.NamedTensorMap): void {
    const b1 = Math.fround(this.beta1);
    const b2 = Math.fround(this.beta2);
    const c1 = Math.fround(1 - this.beta1);
    const c2 = Math.fround(1 - this.beta2);
    const oneMinusAcc1 = Math.fround(1 - this.accBeta1);
    const oneMinusAcc2 = Math.fround(1 - this.accBeta2);
    const eps = Math.fround(this.epsilon);
    const lr = Math.fround(-this.learningRate);
    for (const variable of variables) {
      const grad = grads[variable.name];
      if (!grad) continue;
      if (grad.size !== variable.size) throw new Error(`gradient of ${variable.name} has ${grad.size} values, the variable ${variable.size}`);
      let state = this.moments.get(variable);
      if (!state) this.moments.set(variable, (state = { m: new Float32Array(variable.size), v: new Float32Array(variable.size) }));
      const { m, v } = state;
      const g = grad.dataSync() as Float32Array;
      const w = (variable.dataSync() as Float32Array).slice();
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = (m[i] = Math.fround(Math.fround(m[i]! * b1) + Math.fround(gi * c1)));
        const vi = (v[i] = Math.fround(Math.fround(v[i]! * b2) + Math.fround(Math.fround(gi * gi) * c2)));
        const mHat = Math.fround(mi / oneMinusAcc1);
        const vHat = Math.fround(vi / oneMinusAcc2);
        w[i] = Math.fround(w[i]! + Math.fround(Math.fround(mHat / Math.fround(Math.fround(Math.sqrt(vHat)) + eps)) * lr));
      }
      const next = tf.tensor(w, variable.shape, 'float32');
      variable.assign(next);
      next.dispose();
    }
    this.accBeta1 = Math.fround(this.accBeta1 * b1);
    this.accBeta2 = Math.fround(this.accBeta2 * b2);
    this.steps++;
  }

  /** Forgets the moments of variables (e.g. after they were disposed). */
  dispose(): void {
    this.moments.clear();
  }
}
