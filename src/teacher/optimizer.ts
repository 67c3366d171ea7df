// AdamW with explicit, serialisable state (moments and step), and the linear warm-up/decay schedule
// of the paper's fine-tuning. Written here rather than tf.train.adam so that a checkpoint holds
// exactly what a resumed run needs.
import * as tf from '@tensorflow/tfjs-core';
import type { FloatTensor } from './safetensors.ts';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay, applied to matrices only (not norms or biases). */
  weightDecay?: number;
}

export class AdamW {
  private readonly m = new Map<string, tf.Tensor>();
  private readonly v = new Map<string, tf.Tensor>();
  step = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;

  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void {
    this.step++;
    const bc1 = 1 - this.beta1 ** this.step;
    const bc2 = 1 - this.beta2 ** this.step;
    vars.forEach((w, i) => {
      const g = grads[i]!;
      const key = stateKey(w);
      const mPrev = this.m.get(key);
      const vPrev = this.v.get(key);
      const [m, v] = tf.tidy(() => [
        mPrev ? tf.add(tf.mul(mPrev, this.beta1), tf.mul(g, 1 - this.beta1)) : tf.mul(g, 1 - this.beta1),
        vPrev ? tf.add(tf.mul(vPrev, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)) : tf.mul(tf.square(g), 1 - this.beta2),
      ]);
      mPrev?.dispose();
      vPrev?.dispose();
      this.m.set(key, m!);
      this.v.set(key, v!);
      const decay = this.weightDecay > 0 && w.rank >= 2 ? this.weightDecay : 0;
      // Inside tidy: assign keeps the new data, the temporary handles are released (no leak per step).
      tf.tidy(() => {
        const update = tf.div(tf.div(m!, bc1), tf.add(tf.sqrt(tf.div(v!, bc2)), this.epsilon));
        const decayed = decay > 0 ? tf.mul(w, 1 - lr * decay) : w;
        w.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    });
  }

  /** Moments by variable key, for checkpoints. */
  stateTensors(): Record<string, FloatTensor> {
    const out: Record<string, FloatTensor> = {};
    for (const [k, t] of this.m) out[`adam.m/${k}`] = { shape: [...t.shape], data: new Float32Array(t.dataSync() as Float32Array) };
    for (const [k, t] of this.v) out[`adam.v/${k}`] = { shape: [...t.shape], data: new Float32Array(t.dataSync() as Float32Array) };
    return out;
  }

  loadState(step: number, get: (name: string) => FloatTensor | undefined, vars: readonly tf.Variable[]): void {
    this.dispose();
    this.step = step;
    if (step === 0) return;
    for (const w of vars) {
      const key = stateKey(w);
      const m = get(`adam.m/${key}`);
      const v = get(`adam.v/${key}`);
      if (!m || !v) throw new Error(`optimizer state for "${key}" is missing from the checkpoint`);
      this.m.set(key, tf.tensor(m.data, m.shape, 'float32'));
      this.v.set(key, tf.tensor(v.data, v.shape, 'float32'));
    }
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** A variable's name without the per-model suffix, stable across processes. */
export function stateKey(v: tf.Variable): string {
  const i = v.name.lastIndexOf('#');
  return i >= 0 ? v.name.slice(0, i) : v.name;
}

/** HF's get_linear_schedule_with_warmup: ramp over `warmup` steps, then decay linearly to 0 at `total`. */
export function linearSchedule(base: number, step: number, total: number, warmup = 0): number {
  if (step < warmup) return (base * step) / Math.max(1, warmup);
  return base * Math.max(0, (total - step) / Math.max(1, total - warmup));
}
