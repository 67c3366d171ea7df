// Rotary position embeddings as Hugging Face Llama computes them (rotate_half convention).
import * as tf from '@tensorflow/tfjs-core';

/** cos and sin tables [maxPositions, headDim]: freqs = pos * theta^(-2i/d), duplicated across both halves. */
export function ropeTables(headDim: number, theta: number, maxPositions: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * headDim);
  const sin = new Float32Array(maxPositions * headDim);
  for (let i = 0; i < half; i++) {
    // In float32, as HF does: inv_freq = 1 / theta ** (arange(0, d, 2) / d).
    const invFreq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
    for (let p = 0; p < maxPositions; p++) {
      const angle = Math.fround(p * invFreq);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + i] = c;
      cos[p * headDim + i + half] = c;
      sin[p * headDim + i] = s;
      sin[p * headDim + i + half] = s;
    }
  }
  return { cos, sin };
}

/** x * cos + rotate_half(x) * sin, with x [B, H, T, d] and cos/sin broadcastable [B, 1, T, d]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const d = x.shape[3];
    const [x1, x2] = tf.split(x, [d / 2, d / 2], 3);
    const rotated = tf.concat([tf.neg(x2!), x1!], 3);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
  });
}
