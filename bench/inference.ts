// Inference speed of LEADER(S), onnxruntime-node vs tfjs, in one run: batch-1 latency p50/p99 and batch-64 samples/s.
// Uses models/demo when present (--model), else a d=64 student with seeded random weights over the synthetic
// cohort's vocabularies (speed does not depend on the weight values).
//   npm run bench:inference [-- --model models/demo --threads 1 --backend wasm]
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type { DatasetRecord } from '../src/dataset/types.ts';
import { buildModelFiles } from '../src/model/student/artifact.ts';
import { defaultStudentConfig } from '../src/model/student/config.ts';
import { batchTensors, disposeBatch, StudentModel } from '../src/model/student/model.ts';
import { Encoder } from '../src/model/student/encode.ts';
import { buildVocabularies, VocabIndex } from '../src/model/student/vocab.ts';
import { initWeights, parameterSpecs, type WeightMap } from '../src/model/student/weights.ts';
import { readModelDir, type ModelFiles } from '../src/model/runtime/model-dir.ts';
import { StudentRuntime } from '../src/model/runtime/session.ts';
import { initBackend, parseBackendChoice } from '../src/model/tf/backend.ts';
import { median, syntheticDataset } from './train.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Runner {
  name: string;
  run(records: DatasetRecord[]): Promise<unknown>;
}

async function measure(r: Runner, records: DatasetRecord[], singles: number, batches: number): Promise<{ p50: number; p99: number; throughput: number }> {
  for (let i = 0; i < 20; i++) await r.run([records[i % records.length]!]);
  const lat: number[] = [];
  for (let i = 0; i < singles; i++) {
    const rec = records[i % records.length]!;
    const t0 = process.hrtime.bigint();
    await r.run([rec]);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const rates: number[] = [];
  for (let i = 0; i < batches; i++) {
    const start = (i * 64) % Math.max(1, records.length - 64);
    const batch = records.slice(start, start + 64);
    const t0 = process.hrtime.bigint();
    await r.run(batch);
    rates.push(batch.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), throughput: median(rates) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: path.join(root, 'models', 'demo') },
      threads: { type: 'string', default: '1' },
      backend: { type: 'string', default: 'wasm' },
      singles: { type: 'string', default: '2000' },
      batches: { type: 'string', default: '100' },
    },
  });
  const { dataset } = await syntheticDataset();
  const records = dataset.records.slice(0, 4096);
  let files: ModelFiles;
  let weights: WeightMap | undefined;
  if (existsSync(path.join(values.model!, 'manifest.json'))) {
    files = await readModelDir(values.model!);
  } else {
    const vocab = buildVocabularies(dataset.records);
    const config = defaultStudentConfig;
    weights = initWeights(parameterSpecs(config, new VocabIndex(vocab).sizes, vocab.labels.length), 1);
    const training = { datasetFingerprint: dataset.summary.fingerprint, records: 0, patients: 0, seed: 1, alpha: 0, beta: 0, epochs: 0, batchSize: 64, learningRate: 5e-4, curve: [] };
    files = buildModelFiles({ config, vocab, weights }, { training });
  }
  const m = files.manifest;
  const runtime = await StudentRuntime.fromFiles(files, { provider: 'auto', threads: Number(values.threads) });
  const backend = await initBackend(parseBackendChoice(values.backend!));
  // tfjs runs the same weights: read them back from the manifest's ONNX when they came from a model directory.
  if (!weights) weights = await weightsFromOnnx(files);
  const model = new StudentModel(m.config, new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)])));
  const encoder = new Encoder(new VocabIndex(m.vocabularies), m.config);
  const runners: Runner[] = [
    { name: `onnxruntime-node (${runtime.provider}, ${values.threads} thread)`, run: (r) => runtime.predict(r) },
    {
      name: `tfjs ${backend.name}`,
      run: async (r) => {
        const x = batchTensors(encoder.encode(r));
        const out = await model.predict(x);
        disposeBatch(x);
        return out;
      },
    },
  ];
  console.log(
    `bench:inference  model ${existsSync(path.join(values.model!, 'manifest.json')) ? values.model : 'random weights'} (d=${m.config.dim}, ${m.vocabularies.labels.length} labels), ` +
      `${records.length} synthetic records, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  console.log('runtime                                   batch-1 p50   batch-1 p99   batch-64 samples/s');
  for (const r of runners) {
    const slow = r.name.startsWith('tfjs');
    const res = await measure(r, records, slow ? Math.min(300, Number(values.singles)) : Number(values.singles), slow ? Math.min(30, Number(values.batches)) : Number(values.batches));
    console.log(`${r.name.padEnd(40)}  ${res.p50.toFixed(3).padStart(8)} ms   ${res.p99.toFixed(3).padStart(8)} ms   ${res.throughput.toFixed(0).padStart(10)}`);
  }
  await runtime.close();
}

/** Float initializers of the exported graph, by weight name (the exporter names initializers after the weights). */
async function weightsFromOnnx(files: ModelFiles): Promise<WeightMap> {
  const onnxProto = (await import('onnx-proto')).default;
  const model = onnxProto.onnx.ModelProto.decode(files.onnx);
  const out: WeightMap = new Map();
  for (const t of model.graph?.initializer ?? []) {
    if (!t.name || t.dataType !== onnxProto.onnx.TensorProto.DataType.FLOAT || !t.rawData || t.name.startsWith('const_')) continue;
    const raw = t.rawData;
    const data = new Float32Array(raw.length / 4);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
    out.set(t.name, { shape: (t.dims ?? []).map(Number), data });
  }
  return out;
}

await main();
