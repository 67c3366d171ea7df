// The pipeline's teacher stages, inline: a tiny scratch teacher is trained on the student's training split (in a
// worker thread), its features feed distillation, and it is scored beside the candidate and the baselines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCohort } from '../../src/synth/generator.ts';
import { ArtifactStore } from '../../src/retrain/artifacts.ts';
import { InlineExecutor } from '../../src/retrain/engine.ts';
import { parseRetrainConfig } from '../../src/retrain/config.ts';
import { leaderStages, retrainPlan, runRetrain, type RetrainEvent } from '../../src/retrain/run.ts';
import { readTeacherFeatures } from '../../src/model/student/teacher-features.ts';
import { readDataset } from '../../src/dataset/io.ts';
import { splitByPatient } from '../../src/eval/splits.ts';

let tmp: string;
let cohort: string;
const MAPPING = join(import.meta.dirname, '../../mappings/synthetic.json');

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'retrain-teacher-'));
  cohort = join(tmp, 'fhir');
  await writeCohort({ seed: 5, patients: 80, out: cohort, maxEncounters: 4 });
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A teacher small enough to train in seconds on a CPU: it is here to test the plumbing, not to learn. */
const TINY_TEACHER = {
  enabled: true,
  steps: 3,
  batchSize: 4,
  accumulation: 1,
  maxTokens: 384,
  scratch: { hidden: 16, layers: 1, kvHeads: 1, context: 384, vocab: 600, pretrainSteps: 2 },
  featureBatchSize: 16,
  backend: 'cpu',
};

function config(overrides: Record<string, unknown>) {
  return parseRetrainConfig({
    source: { kind: 'folder', path: cohort },
    mapping: MAPPING,
    workDir: join(tmp, 'work'),
    registry: join(tmp, 'models'),
    partitions: 2,
    student: { epochs: 2, dim: 16, patience: 2 },
    evaluation: { rounds: 2, baselines: ['most-frequent'] },
    snapshot: 'teacher-test',
    modelVersion: 'with-teacher',
    ...overrides,
  });
}

test('teacher enabled: teacher -> teacher features -> distil with them -> evaluate scores leader-t too; a rerun reuses both', { timeout: 240_000 }, async () => {
  const store = new ArtifactStore(join(tmp, 'work'));
  const events: RetrainEvent[] = [];
  const result = await runRetrain(config({ teacher: TINY_TEACHER }), new InlineExecutor(leaderStages(), store), store, (e) => events.push(e));
  for (const stage of ['teacher', 'teacher-features', 'distil', 'evaluate']) assert.ok(events.some((e) => e.type === 'stage-end' && e.stage === stage), `${stage} ran`);
  assert.ok(events.some((e) => e.type === 'task-progress' && e.stage === 'teacher' && /finetune step/.test(e.message ?? '')), 'the teacher thread reports its steps');

  // The teacher saw the training patients only, and features exist for exactly those records.
  const teacher = result.teacher!;
  assert.ok(teacher, 'the result names the teacher');
  const dataset = await readDataset(join(store.root, 'merge-dataset', (await readdir(join(store.root, 'merge-dataset'))).find((d) => !d.startsWith('.'))!, 'dataset.jsonl'));
  const train = splitByPatient(dataset.records, { train: 0.8, validation: 0.1, test: 0.1 }, 42).train;
  assert.equal(teacher.trainRecords, train.length);
  assert.ok(train.length < dataset.records.length);
  const manifest = JSON.parse(await readFile(join(teacher.path, 'teacher.json'), 'utf8')) as { dataset: { records: number }; baseSource: string };
  assert.equal(manifest.dataset.records, train.length);
  assert.equal(manifest.baseSource, 'scratch');
  assert.ok(existsSync(join(teacher.path, 'teacher.onnx')));
  assert.ok(!existsSync(join(store.root, '.teacher-work')) || (await readdir(join(store.root, '.teacher-work'))).length === 0, 'the training folder moved into the artifact');

  const featuresDir = join(store.root, 'teacher-features', (await readdir(join(store.root, 'teacher-features'))).find((d) => !d.startsWith('.'))!, 'features');
  const features = await readTeacherFeatures(featuresDir);
  assert.equal(features.index.dim, 16);
  assert.deepEqual(new Set(features.index.rows.map((r) => r.encounterId)), new Set(train.map((r) => r.encounterId)));

  // The candidate was distilled from those features (alpha > 0) and says so in its manifest.
  const candidate = JSON.parse(await readFile(join(tmp, 'models', 'with-teacher', 'manifest.json'), 'utf8')) as { training: { teacherFeatures?: string; alpha?: number } };
  assert.match(candidate.training.teacherFeatures ?? '', /retraining teacher/);

  const report = JSON.parse(await readFile(result.report, 'utf8')) as { methods: Array<{ name: string }> };
  assert.deepEqual(report.methods.map((m) => m.name).sort(), ['candidate', 'leader-t', 'most-frequent']);

  // Same configuration again: every stage is found done.
  const again: RetrainEvent[] = [];
  await runRetrain(config({ teacher: TINY_TEACHER, promote: false }), new InlineExecutor(leaderStages(), store), store, (e) => again.push(e));
  for (const stage of ['teacher', 'teacher-features', 'distil']) assert.ok(again.some((e) => e.type === 'stage-skip' && e.stage === stage), `${stage} reused`);
});

test('teacher off (the default): the plan has no teacher steps and distillation keeps student.alpha', async () => {
  const plan = await retrainPlan(config({}), undefined);
  assert.deepEqual(plan.map((s) => s.id), ['import', 'partition', 'build', 'dataset', 'distil', 'evaluate']);
  assert.equal((plan.find((s) => s.id === 'distil')!.params as { alpha: number }).alpha, 0);
  assert.deepEqual(plan.find((s) => s.id === 'evaluate')!.inputs, { dataset: 'dataset', candidate: 'distil' });
  const on = await retrainPlan(config({ teacher: { enabled: true } }), undefined);
  assert.deepEqual(on.map((s) => s.id), ['import', 'partition', 'build', 'dataset', 'teacher', 'teacher-features', 'distil', 'evaluate']);
  assert.equal((on.find((s) => s.id === 'distil')!.params as { alpha: number }).alpha, 0.4);
});

test('a teacher checkpoint that is not a Hugging Face folder is a clear error before anything runs', async () => {
  const empty = join(tmp, 'not-a-checkpoint');
  await mkdir(empty, { recursive: true });
  await assert.rejects(retrainPlan(config({ teacher: { enabled: true, checkpoint: empty } }), undefined), /teacher\.checkpoint .*not-a-checkpoint: no config\.json/);
  assert.throws(() => config({ teacher: { enabled: true, steps: 0 } }), /teacher\.steps/);
});
