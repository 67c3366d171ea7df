// Gradients of Sum and Mean without tfjs-core's `dy * ones(x.shape)`: the stock versions fill a JS array of
// ones the size of the input on every backward pass, which cost about a third of a training step here
// (attention sums over broadcast products, LayerNorm means). Tiling dy gives the same values.
// Registered process-wide on first use; same results as the stock gradients.
import * as tf from '@tensorflow/tfjs-core';

let installed = false;

function expandedDy(dy: tf.Tensor, xShape: number[], axis: number | number[]): { dy: tf.Tensor; reps: number[]; size: number } {
  const axes = tf.util.parseAxisParam(axis, xShape);
  const shape = xShape.slice();
  let size = 1;
  for (const a of axes) {
    size *= xShape[a]!;
    shape[a] = 1;
  }
  return { dy: tf.reshape(dy, shape), reps: xShape.map((n, i) => (shape[i] === 1 && axes.includes(i) ? n : 1)), size };
}

export function installReductionGradients(): void {
  if (installed) return;
  installed = true;
  for (const kernelName of [tf.Sum, tf.Mean]) {
    if (tf.getGradient(kernelName)) tf.unregisterGradient(kernelName);
    tf.registerGradient({
      kernelName,
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const x = saved[0]!;
        const { dy: d, reps, size } = expandedDy(dy as tf.Tensor, x.shape, (attrs as unknown as { axis: number | number[] }).axis);
        const tiled = reps.every((r) => r === 1) ? d : tf.tile(d, reps);
        return { x: () => (kernelName === tf.Mean ? tf.div(tiled, size) : tiled) };
      },
    });
  }
}
