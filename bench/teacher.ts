// Teacher speed on this machine: fine-tuning step time (full and LoRA) and scoring throughput in tfjs
// and onnxruntime, for two from-scratch sizes. Prints medians. `npm run bench:teacher [-- --backend cpu]`
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, parseBackendChoice } from '../src/model/tf/backend.ts';
import { smallConfig } from '../src/teacher/config.ts';
import { Decoder, padBatch } from '../src/teacher/decoder.ts';
import { DEFAULT_LORA } from '../src/teacher/lora.ts';
import { exportTeacherOnnx } from '../src/teacher/onnx-export.ts';
import { OnnxTeacher } from '../src/teacher/onnx-runner.ts';
import { bceWithLogits } from '../src/teacher/train.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const backend = await initBackend(parseBackendChoice(arg('backend', 'auto')));
const repeats = Number(arg('repeats', '5'));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const SIZES = [
  { name: 'tiny  d64  L2 seq128', hidden: 64, layers: 2, seq: 128, batch: 8 },
  { name: 'small d128 L4 seq256', hidden: 128, layers: 4, seq: 256, batch: 8 },
];
const LABELS = 150;
const VOCAB = 2000;

console.log(`teacher bench: tfjs backend ${backend.name}${backend.gpu ? ' (GPU)' : ''}, ${repeats} repeats, medians`);
for (const size of SIZES) {
  const config = smallConfig(VOCAB, { hiddenSize: size.hidden, intermediateSize: size.hidden * 3, numLayers: size.layers, numHeads: size.hidden / 32, numKvHeads: 1, headDim: 32, maxPositions: size.seq });
  const seqs = Array.from({ length: size.batch }, (_, b) => Array.from({ length: size.seq - (b % 4) * 8 }, (_, t) => (b * 131 + t * 17) % VOCAB));
  const batch = padBatch(seqs, 0);
  const target = tf.zeros([size.batch, LABELS]);
  for (const mode of ['full', 'lora'] as const) {
    const m = Decoder.random(config, 1);
    m.attachHead(LABELS);
    if (mode === 'lora') m.attachLora(DEFAULT_LORA);
    const vars = m.trainableVariables();
    const times: number[] = [];
    for (let r = 0; r <= repeats; r++) {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(() => bceWithLogits(m.classify(batch, { training: true, seed: r }), target), vars);
      value.dataSync();
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
      if (r > 0) times.push(performance.now() - t0); // the first run compiles kernels
    }
    const ms = median(times);
    console.log(
      `${size.name} ${mode.padEnd(4)}: ${(m.parameterCount() / 1e6).toFixed(2)} M params, forward+backward ${ms.toFixed(0)} ms per batch of ${size.batch} = ${((size.batch * 1000) / ms).toFixed(2)} samples/s`,
    );
    m.dispose();
  }
  // Scoring: tfjs forward vs the exported ONNX graph on onnxruntime-node.
  const m = Decoder.random(config, 2);
  m.attachHead(LABELS);
  const tfTimes: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    const p = m.classify(batch);
    p.dataSync();
    p.dispose();
    if (r > 0) tfTimes.push(performance.now() - t0);
  }
  const ort = await OnnxTeacher.create(exportTeacherOnnx(m), { maxPositions: size.seq, hidden: size.hidden, labels: LABELS });
  const ortTimes: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    await ort.run(seqs, 0);
    if (r > 0) ortTimes.push(performance.now() - t0);
  }
  await ort.close();
  const tfMs = median(tfTimes);
  const ortMs = median(ortTimes);
  console.log(
    `${size.name} score: tfjs ${tfMs.toFixed(0)} ms (${((size.batch * 1000) / tfMs).toFixed(1)} prompts/s), onnxruntime ${ortMs.toFixed(0)} ms (${((size.batch * 1000) / ortMs).toFixed(1)} prompts/s) per batch of ${size.batch}`,
  );
  m.dispose();
  target.dispose();
}
