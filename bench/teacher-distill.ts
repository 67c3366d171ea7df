// Why distilling a scratch teacher moves the student: one holdout split (0.8/0.1/0.1 by patient, seed 42,
// protocol "last"), a per-fold teacher fitted on the training part, the spread of its features across
// records, and the student distilled from them (features only, beta 0) at one or more alphas, optionally
// with the features centred per dimension (a deviation from the paper, for diagnosis only).
// npm run bench:teacher-distill -- --dataset <file> [--alphas 0.4,0.04] [--centre] [--epochs 12]
//   [--teacher-steps 80 --teacher-pretrain-steps 30 --teacher-hidden 64 --teacher-layers 2 --teacher-context 256]
import { readDataset } from '../src/dataset/io.ts';
import type { DatasetRecord } from '../src/dataset/types.ts';
import { evaluate } from '../src/eval/harness.ts';
import { createStudentRecommender } from '../src/model/student/recommender.ts';
import { FoldDistilledStudent } from '../src/teacher/distilled-student.ts';
import { FoldTeachers, type FittedTeacher, type FoldFeatures } from '../src/teacher/fold-teachers.ts';
import { loadavg } from 'node:os';

const arg = (name: string, fallback?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1]!;
  if (fallback === undefined) {
    console.error('usage: bench/teacher-distill.ts --dataset <file> [--alphas 0.4,0.04] [--centre] [--epochs 12]');
    process.exit(2);
  }
  return fallback;
};
const num = (name: string, fallback: number) => Number(arg(name, String(fallback)));
const centre = process.argv.includes('--centre');
const alphas = arg('alphas', '0.4').split(',').map(Number);
if (alphas.some((a) => !(a > 0))) {
  console.error('--alphas: positive numbers, comma-separated');
  process.exit(2);
}

/** Reports the spread of the teacher's features; with --centre, subtracts each dimension's mean. */
class MeasuredTeachers extends FoldTeachers {
  override async featuresFor(t: FittedTeacher, records: readonly DatasetRecord[]): Promise<FoldFeatures> {
    const f = await super.featuresFor(t, records);
    const n = f.rows.length;
    const mean = new Float64Array(f.dim);
    let ss = 0;
    for (let i = 0; i < f.data.length; i++) {
      ss += f.data[i]! ** 2;
      mean[i % f.dim]! += f.data[i]! / n;
    }
    let vs = 0;
    for (let i = 0; i < f.data.length; i++) vs += (f.data[i]! - mean[i % f.dim]!) ** 2;
    console.log(`teacher features: ${n} records x ${f.dim}; RMS ${Math.sqrt(ss / f.data.length).toFixed(3)}, std across records (per dimension, pooled) ${Math.sqrt(vs / f.data.length).toFixed(4)}`);
    if (!centre) return f;
    return { ...f, data: Float32Array.from(f.data, (v, i) => v - mean[i % f.dim]!), source: `${f.source}, centred` };
  }
}

const ds = await readDataset(arg('dataset'));
const hidden = num('teacher-hidden', 64);
const teachers = new MeasuredTeachers({
  names: ds.names,
  backend: 'wasm',
  settings: {
    scratch: { model: { hiddenSize: hidden, intermediateSize: Math.round((hidden * 8) / 3 / 8) * 8, numLayers: num('teacher-layers', 2), maxPositions: num('teacher-context', 256) }, pretrainSteps: num('teacher-pretrain-steps', 30) },
    steps: num('teacher-steps', 80),
    batchSize: 8,
    accumulation: 1,
    learningRate: 2e-3,
  },
});
const epochs = num('epochs', 12);
const methods = alphas.map((alpha) => {
  const name = `features alpha ${alpha}${centre ? ' centred' : ''}`;
  return { name, create: () => FoldDistilledStudent.create({ student: { name, alpha, beta: 0, epochs }, studentModule: { createStudentRecommender }, teachers }) };
});
console.log(`load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  const report = await evaluate({ dataset: ds, methods, split: { kind: 'holdout', train: 0.8, validation: 0.1, test: 0.1 }, seed: 42 });
  for (const m of report.methods) {
    const s = m.summary.overall;
    console.log(`${m.name}: PR-AUC ${s.prAuc!.mean.toFixed(3)} ± ${s.prAuc!.std.toFixed(3)}, Jaccard ${s.jaccard!.mean.toFixed(3)} ± ${s.jaccard!.std.toFixed(3)} (10 rounds on 80% of ${report.testSamples.overall} test patients)`);
  }
} finally {
  teachers.dispose();
}
console.log(`load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
