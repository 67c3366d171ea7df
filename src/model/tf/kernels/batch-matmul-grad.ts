// BatchMatMul gradient that reduces over broadcast batch dimensions, which the stock gradient does
// not do (with it, backprop through tf.matMul of [B,T,d] by [d,e] fails on a shape check), and
// computes a shared weight's gradient as one 2-D product over all rows instead of a batch of
// products summed afterwards. Transposed operands are passed as flags: the BatchMatMul kernel
// (batch-matmul.ts) materialises them where that is faster, so forward products gain as well.
import * as tf from '@tensorflow/tfjs-core';

export function batchMatMulGradConfig(): tf.GradConfig {
  return {
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const transposeA = Boolean(attrs?.['transposeA']);
      const transposeB = Boolean(attrs?.['transposeB']);
      const g = dy as tf.Tensor;
      return {
        a: () => reduceToShape(gradA(g, a, b, transposeA, transposeB), a.shape),
        b: () => reduceToShape(gradB(g, a, b, transposeA, transposeB), b.shape),
      };
    },
  };
}

// With A = op(a), B = op(b) and y = A·B: dA = dy·Bᵀ and dB = Aᵀ·dy; da/db undo op().
function gradA(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean): tf.Tensor {
  // dA = dy · op(b)ᵀ; if tA, da = dAᵀ = op(b) · dyᵀ
  if (!tA) return mm(dy, b, false, !tB);
  return mm(b, dy, tB, true);
}

function gradB(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean): tf.Tensor {
  // dB = op(a)ᵀ · dy; if tB, db = dBᵀ = dyᵀ · op(a)
  if (!tB) {
    // A rank-2 (or batch-1) b shared across a batch of a: fold the batch into rows, one 2-D matMul.
    if (batchSize(b) === 1 && batchSize(a) > 1 && !tA && a.rank === dy.rank) {
      const k = a.shape[a.rank - 1]!;
      const n = dy.shape[dy.rank - 1]!;
      const a2 = tf.reshape(a, [-1, k]);
      const dy2 = tf.reshape(dy, [-1, n]);
      return tf.reshape(mm(a2, dy2, true, false), [...b.shape.slice(0, -2).map(() => 1), k, n]);
    }
    return mm(a, dy, !tA, false);
  }
  if (batchSize(b) === 1 && batchSize(a) > 1 && !tA && a.rank === dy.rank) {
    const k = a.shape[a.rank - 1]!;
    const n = dy.shape[dy.rank - 1]!;
    const a2 = tf.reshape(a, [-1, k]);
    const dy2 = tf.reshape(dy, [-1, n]);
    return tf.reshape(mm(dy2, a2, true, false), [...b.shape.slice(0, -2).map(() => 1), n, k]);
  }
  return mm(dy, a, true, tA);
}

function mm(x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean): tf.Tensor {
  return tf.matMul(x, y, tx, ty);
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
