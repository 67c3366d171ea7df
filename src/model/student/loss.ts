// The student's losses: L = BCE + beta * L_align + alpha * MSE(Proj(z), h_T).
import * as tf from '@tensorflow/tfjs-core';

/** Binary cross-entropy with logits, averaged over samples and labels (numerically stable form). */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const pos = tf.relu(logits);
  return tf.mean(tf.add(tf.sub(pos, tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))) as tf.Scalar;
}

function normalise(x: tf.Tensor2D): tf.Tensor2D {
  const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
  return tf.div(x, tf.maximum(norm, 1e-8));
}

/**
 * Symmetric InfoNCE between profile prompts [B, d] and current-medication encodings [B, d]:
 * cosine similarity, temperature 1, the other records of the batch as negatives.
 */
export function alignmentLoss(prompt: tf.Tensor2D, current: tf.Tensor2D, temperature = 1): tf.Scalar {
  const b = prompt.shape[0];
  const sim = tf.div(tf.matMul(normalise(prompt), normalise(current), false, true), temperature);
  const eye = tf.eye(b);
  const rows = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(sim), eye), 1)));
  const cols = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(tf.transpose(sim)), eye), 1)));
  return tf.mul(tf.add(rows, cols), 0.5) as tf.Scalar;
}

export function mse(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.mean(tf.square(tf.sub(a, b))) as tf.Scalar;
}
