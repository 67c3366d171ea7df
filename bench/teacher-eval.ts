// LEADER(T) quality on a held-out patient split of a dataset file: per-sample PR-AUC, Jaccard and F1 at
// the paper's teacher threshold 0.5, next to a label-frequency reference, plus training and scoring time.
// npm run bench:teacher-eval -- --dataset <file> [--steps 150 --pretrain-steps 60 --hidden 64 --layers 2 --context 384
//   --word-vectors none|wink-sg-100d]
import { readDataset } from '../src/dataset/io.ts';
import { averagePrecision, f1, jaccard, predictedSet } from '../src/eval/metrics.ts';
import { splitByPatient } from '../src/eval/splits.ts';
import { initBackend, parseBackendChoice } from '../src/model/tf/backend.ts';
import { datasetLabels } from '../src/teacher/examples.ts';
import { createTeacherRecommender } from '../src/teacher/recommender.ts';
import { parseWordVectorSource } from '../src/teacher/word-vectors.ts';

const arg = (name: string, fallback?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1]!;
  if (fallback === undefined) {
    console.error(`usage: bench/teacher-eval.ts --dataset <file> (build one with \`leader-cds dataset build\`, e.g. from ../shared/data/mimic-iv-demo-fhir)`);
    process.exit(2);
  }
  return fallback;
};
const num = (name: string, fallback: number) => Number(arg(name, String(fallback)));

const file = arg('dataset');
const ds = await readDataset(file);
const backend = await initBackend(parseBackendChoice(arg('backend', 'auto')));
const seed = num('seed', 1);
const split = splitByPatient(ds.records, { train: 0.8, validation: 0, test: 0.2 }, seed);
const labels = datasetLabels(ds);
const context = num('context', 384);
let wordVectors;
try {
  wordVectors = parseWordVectorSource(arg('word-vectors', 'none'), '--word-vectors');
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}

function scores(name: string, probs: Float32Array[], threshold: number) {
  const ap: number[] = [];
  const ja: number[] = [];
  const f: number[] = [];
  const meds: number[] = [];
  split.test.forEach((r, i) => {
    const truth = new Set(r.labels.map((l) => labels.indexOf(l)).filter((j) => j >= 0));
    const pred = predictedSet(probs[i]!, threshold);
    const a = averagePrecision(probs[i]!, truth);
    if (!Number.isNaN(a)) ap.push(a);
    ja.push(jaccard(pred, truth));
    f.push(f1(pred, truth));
    meds.push(pred.size);
  });
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  console.log(
    `${name.padEnd(22)} PR-AUC ${mean(ap).toFixed(4)}  Jaccard ${mean(ja).toFixed(4)}  F1 ${mean(f).toFixed(4)}  #Med ${mean(meds).toFixed(1)}  (threshold ${threshold})`,
  );
}

console.log(
  `word vectors: ${wordVectors}`,
);
console.log(
  `dataset ${file}: ${ds.records.length} records, ${labels.length} labels; train ${split.train.length} records, test ${split.test.length} records (patient split, seed ${seed}); tfjs ${backend.name}`,
);

// Reference: every test record scored by the label's training frequency.
const freq = new Float32Array(labels.length);
for (const r of split.train) for (const l of r.labels) freq[labels.indexOf(l)]! += 1 / split.train.length;
scores('label frequency', split.test.map(() => freq), 0.5);

const rec = createTeacherRecommender({
  names: ds.names,
  train: {
    maxTokens: context,
    scratch: {
      tokenizerVocab: num('vocab', 3000),
      model: { hiddenSize: num('hidden', 64), numLayers: num('layers', 2), maxPositions: context },
      pretrainSteps: num('pretrain-steps', 60),
      pretrainLearningRate: 1e-3,
      wordVectors,
    },
    steps: num('steps', 150),
    batchSize: num('batch-size', 8),
    accumulation: 1,
    learningRate: num('learning-rate', 1e-3),
  },
});
const report = await rec.fit(split.train, [], { labels, seed, onProgress: (e) => e.type === 'message' && console.log(`  ${e.text}`) });
const t0 = performance.now();
const probs = await rec.predict(split.test);
const scoreSeconds = (performance.now() - t0) / 1000;
await rec.close();
console.log(`teacher: fitted in ${report.seconds.toFixed(0)} s; final fine-tuning loss ${report.curve?.at(-1)?.trainLoss.toFixed(4)}; scored ${split.test.length} prompts in ${scoreSeconds.toFixed(1)} s on onnxruntime`);
const name = wordVectors === 'none' ? 'LEADER(T) scratch' : `LEADER(T) + ${wordVectors}`;
scores(name, probs, 0.5);
scores(name, probs, 0.3);
