// Identity on wasm shares the input's buffer (reference count + 1) as the cpu backend does; the
// stock wasm kernel copies it. Backprop runs Identity for every pass-through gradient (add,
// reshape, ...), tens of full-activation copies per step. tfjs tensors are immutable (a Variable's
// assign swaps its buffer, it never writes into one), so sharing is safe.
import * as tf from '@tensorflow/tfjs-core';
import { kernelIO } from './io.ts';

export function identityConfig(backendName: string, stock: tf.KernelConfig | undefined): tf.KernelConfig {
  return {
    kernelName: tf.Identity,
    backendName,
    kernelFunc: (args) => {
      const x = args.inputs['x'];
      if (!x) throw new Error('Identity needs input x');
      if (x.dtype === 'string' || x.dtype === 'complex64') {
        if (!stock) throw new Error(`no Identity kernel for ${x.dtype} on backend ${backendName}`);
        return stock.kernelFunc(args);
      }
      return kernelIO(args.backend).reshape(x, [...x.shape]);
    },
  };
}
