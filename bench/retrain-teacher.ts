// Cost and effect of the teacher stages in a retraining run: `npm run bench:retrain-teacher [-- options]`.
//
// Writes a synthetic cohort, then per run executes the retraining plan inline twice on one artifact store: teacher
// off (today's default), then teacher on (the data stages are reused, so the second run adds teacher, teacher
// features, a distillation with alpha > 0 and an evaluation that also scores the teacher). Prints the median stage
// seconds, process CPU seconds (the teacher's worker thread included), and the test metrics of the candidate in each
// configuration, of the teacher and of the baselines, with the load average at the start and the end.
//
// Options:
//   --patients N          cohort size (default 600)
//   --seed N              cohort seed (default 1)
//   --runs N              runs, median reported (default 1)
//   --epochs N            student epochs (default 10)
//   --teacher-steps N     teacher fine-tuning steps (default 60)
//   --pretrain-steps N    scratch causal-LM steps (default 40)
//   --hidden N, --layers N, --context N, --vocab N   the scratch teacher (default 64, 2, 512, 2000)
//   --checkpoint DIR      a local Hugging Face checkpoint instead of a scratch teacher
//   --backend NAME        tfjs backend for the teacher and the student (default auto)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCohort } from '../src/synth/generator.ts';
import { ArtifactStore } from '../src/retrain/artifacts.ts';
import { InlineExecutor } from '../src/retrain/engine.ts';
import { parseRetrainConfig } from '../src/retrain/config.ts';
import { leaderStages, runRetrain, type RetrainEvent } from '../src/retrain/run.ts';
import { benchArgs } from './args.ts';
import type { EvaluationReport } from '../src/eval/harness.ts';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const { option, intOption } = benchArgs('bench:retrain-teacher');

const patients = intOption('--patients', 600);
const seed = intOption('--seed', 1, 0);
const runs = intOption('--runs', 1);
const epochs = intOption('--epochs', 10);
const teacherSteps = intOption('--teacher-steps', 60);
const pretrainSteps = intOption('--pretrain-steps', 40, 0);
const hidden = intOption('--hidden', 64, 8);
const layers = intOption('--layers', 2);
const context = intOption('--context', 512, 16);
const vocab = intOption('--vocab', 2000, 300);
const checkpoint = option('--checkpoint');
const backend = option('--backend') ?? 'auto';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Measured {
  stages: Record<string, number>;
  wall: number;
  cpu: number;
  metrics: Record<string, { prAuc: number | null; jaccard: number | null; f1: number | null }>;
}

async function once(work: string, cohort: string, teacher: boolean, version: string): Promise<Measured> {
  const config = parseRetrainConfig({
    source: { kind: 'folder', path: cohort },
    mapping: join(root, 'mappings/synthetic.json'),
    workDir: work,
    registry: join(work, 'models'),
    partitions: 2,
    student: { epochs, patience: epochs, backend },
    evaluation: { rounds: 5, baselines: ['most-frequent', 'logreg'] },
    teacher: {
      enabled: teacher,
      ...(checkpoint ? { checkpoint } : {}),
      steps: teacherSteps,
      batchSize: 8,
      accumulation: 1,
      scratch: { hidden, layers, kvHeads: Math.max(1, Math.round(hidden / 64)), context, vocab, pretrainSteps },
      maxTokens: context,
      backend,
    },
    promote: false,
    snapshot: 'bench',
    modelVersion: version,
  });
  const store = new ArtifactStore(work);
  const stages: Record<string, number> = {};
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const result = await runRetrain(config, new InlineExecutor(leaderStages(), store), store, (e: RetrainEvent) => {
    if (e.type === 'stage-end') stages[e.stage] = e.seconds;
    if (e.type === 'task-progress' && e.message && /step|epoch/.test(e.message)) process.stderr.write(`\r  ${e.stage}: ${e.message.slice(0, 70).padEnd(70)}`);
  });
  process.stderr.write('\n');
  const report = JSON.parse(await readFile(result.report, 'utf8')) as EvaluationReport;
  const metrics: Measured['metrics'] = {};
  for (const m of report.methods) {
    const o = m.summary.overall;
    metrics[m.name] = { prAuc: o.prAuc?.mean ?? null, jaccard: o.jaccard?.mean ?? null, f1: o.f1?.mean ?? null };
  }
  return { stages, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0, metrics };
}

const load0 = loadavg();
const tmp = await mkdtemp(join(tmpdir(), 'bench-retrain-teacher-'));
try {
  const cohort = join(tmp, 'fhir');
  await writeCohort({ seed, patients, out: cohort });
  const off: Measured[] = [];
  const on: Measured[] = [];
  for (let run = 1; run <= runs; run++) {
    const work = join(tmp, `work-${run}`);
    process.stderr.write(`run ${run}/${runs}: teacher off (load ${loadavg()[0]!.toFixed(1)})\n`);
    off.push(await once(work, cohort, false, `bench-off-${run}`));
    process.stderr.write(`run ${run}/${runs}: teacher on (load ${loadavg()[0]!.toFixed(1)})\n`);
    on.push(await once(work, cohort, true, `bench-on-${run}`));
  }
  const load1 = loadavg();
  const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined ? '-' : x.toFixed(d));
  const lines: string[] = [];
  lines.push(`bench:retrain-teacher: ${patients} patients (seed ${seed}), ${runs === 1 ? '1 run (no median: pass --runs N)' : `median of ${runs} runs`}; ${cpus().length} cores`);
  lines.push(`teacher: ${checkpoint ? `checkpoint ${checkpoint} (LoRA)` : `scratch d${hidden} x ${layers} layers, context ${context}, vocab ${vocab}, ${pretrainSteps} LM steps`}, ${teacherSteps} fine-tuning steps of 8; student ${epochs} epochs; backend ${backend}`);
  lines.push(`load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}, at end ${load1.map((l) => l.toFixed(2)).join(' ')}`);
  lines.push('');
  lines.push('| stage | teacher off s | teacher on s |');
  lines.push('| --- | ---: | ---: |');
  for (const stage of ['teacher', 'teacher-features', 'distil', 'evaluate']) {
    lines.push(`| ${stage} | ${fmt(median(off.map((m) => m.stages[stage] ?? 0)), 1)} | ${fmt(median(on.map((m) => m.stages[stage] ?? 0)), 1)} |`);
  }
  lines.push(`| whole run (wall) | ${fmt(median(off.map((m) => m.wall)), 1)} | ${fmt(median(on.map((m) => m.wall)), 1)} |`);
  lines.push(`| process CPU s | ${fmt(median(off.map((m) => m.cpu)), 1)} | ${fmt(median(on.map((m) => m.cpu)), 1)} |`);
  lines.push('');
  lines.push('| method (test split, mean over rounds) | PR-AUC | Jaccard | F1 |');
  lines.push('| --- | ---: | ---: | ---: |');
  const row = (label: string, pick: (m: Measured) => Measured['metrics'][string] | undefined, from: Measured[]) => {
    const vals = from.map(pick).filter((v): v is NonNullable<typeof v> => v !== undefined);
    const med = (k: 'prAuc' | 'jaccard' | 'f1') => {
      const xs = vals.map((v) => v[k]).filter((x): x is number => x !== null);
      return xs.length ? median(xs) : null;
    };
    lines.push(`| ${label} | ${fmt(med('prAuc'))} | ${fmt(med('jaccard'))} | ${fmt(med('f1'))} |`);
  };
  row('student, no teacher (candidate, teacher off)', (m) => m.metrics.candidate, off);
  row('student distilled from the teacher (candidate, teacher on)', (m) => m.metrics.candidate, on);
  row('teacher (leader-t)', (m) => m.metrics['leader-t'], on);
  row('most-frequent', (m) => m.metrics['most-frequent'], off);
  row('logreg', (m) => m.metrics.logreg, off);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await rm(tmp, { recursive: true, force: true });
}
