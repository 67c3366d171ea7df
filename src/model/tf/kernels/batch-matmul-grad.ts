// BatchMatMul gradient that (a) on wasm/cpu materialises transposes with tf.transpose and then runs
// plain matMuls, because wasm's matMul with transposeA/transposeB falls off its XNNPACK path and
// is about 10x slower; and (b) reduces over broadcast batch dimensions, which the stock gradient
// does not do (tf.matMul of [B,T,d] by [d,e] fails in backprop with the stock gradient).
import * as tf from '@tensorflow/tfjs-core';

export interface MatMulGradOptions {
  /** Whether to materialise transposes for the backend that is active when backprop runs. */
  explicitTransposes: (backendName: string) => boolean;
}

export function batchMatMulGradConfig(options: MatMulGradOptions): tf.GradConfig {
  return {
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const transposeA = Boolean(attrs?.['transposeA']);
      const transposeB = Boolean(attrs?.['transposeB']);
      const g = dy as tf.Tensor;
      const explicit = options.explicitTransposes(tf.getBackend());
      return {
        a: () => reduceToShape(gradA(g, a, b, transposeA, transposeB, explicit), a.shape),
        b: () => reduceToShape(gradB(g, a, b, transposeA, transposeB, explicit), b.shape),
      };
    },
  };
}

// With A = op(a), B = op(b) and y = A·B: dA = dy·Bᵀ and dB = Aᵀ·dy; da/db undo op().
function gradA(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean, explicit: boolean): tf.Tensor {
  // dA = dy · op(b)ᵀ; if tA, da = dAᵀ = op(b) · dyᵀ
  if (!tA) return mm(dy, b, false, !tB, explicit);
  return mm(b, dy, tB, true, explicit);
}

function gradB(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean, explicit: boolean): tf.Tensor {
  // dB = op(a)ᵀ · dy; if tB, db = dBᵀ = dyᵀ · op(a)
  if (!tB) {
    // A rank-2 (or batch-1) b shared across a batch of a: fold the batch into rows, one 2-D matMul.
    if (batchSize(b) === 1 && batchSize(a) > 1 && !tA && a.rank === dy.rank) {
      const k = a.shape[a.rank - 1]!;
      const n = dy.shape[dy.rank - 1]!;
      const a2 = tf.reshape(a, [-1, k]);
      const dy2 = tf.reshape(dy, [-1, n]);
      return tf.reshape(mm(a2, dy2, true, false, explicit), [...b.shape.slice(0, -2).map(() => 1), k, n]);
    }
    return mm(a, dy, !tA, false, explicit);
  }
  if (batchSize(b) === 1 && batchSize(a) > 1 && !tA && a.rank === dy.rank) {
    const k = a.shape[a.rank - 1]!;
    const n = dy.shape[dy.rank - 1]!;
    const a2 = tf.reshape(a, [-1, k]);
    const dy2 = tf.reshape(dy, [-1, n]);
    return tf.reshape(mm(dy2, a2, true, false, explicit), [...b.shape.slice(0, -2).map(() => 1), n, k]);
  }
  return mm(dy, a, true, tA, explicit);
}

function mm(x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean, explicit: boolean): tf.Tensor {
  if (!explicit) return tf.matMul(x, y, tx, ty);
  return tf.matMul(tx ? swapLast(x) : x, ty ? swapLast(y) : y);
}

function swapLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = x.rank;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

function batchSize(x: tf.Tensor): number {
  return x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
}

/** Sums a gradient over the batch dimensions its input was broadcast along. */
export function reduceToShape(grad: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (sameShape(grad.shape, shape)) return grad;
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(grad, axes) : grad;
  return tf.reshape(summed, [...shape]);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
