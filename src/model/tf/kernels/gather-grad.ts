// GatherV2 gradient for the embedding case (axis 0, no batch dims): one scatter-add of dy's rows
// into a [vocab, ...] zero tensor. The stock gradient wraps the same UnsortedSegmentSum in two
// transposes, one of them over the whole table, which are identities here. Other cases delegate.
import * as tf from '@tensorflow/tfjs-core';

export function gatherGradConfig(stock: tf.GradConfig | undefined): tf.GradConfig {
  return {
    kernelName: tf.GatherV2,
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, saved, attrs) => {
      const [x, indices] = saved as [tf.Tensor, tf.Tensor];
      const axis = Number(attrs?.['axis'] ?? 0);
      const batchDims = Number(attrs?.['batchDims'] ?? 0);
      const parsedAxis = axis < 0 ? axis + x.rank : axis;
      if (parsedAxis !== 0 || batchDims !== 0) {
        if (!stock) throw new Error(`no gradient for GatherV2 with axis ${axis}, batchDims ${batchDims}`);
        return stock.gradFunc(dy, saved, attrs ?? {});
      }
      const g = dy as tf.Tensor;
      return {
        x: () => {
          const rows = indices.size;
          const values = tf.reshape(g, [rows, ...x.shape.slice(1)]);
          return tf.unsortedSegmentSum(values, tf.reshape(indices, [rows]), x.shape[0]!);
        },
        indices: () => indices,
      };
    },
  };
}
