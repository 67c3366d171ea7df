// `leader-cds evaluate` with teacher methods: the ablation preset, per-fold teachers from the --teacher-*
// flags, the report's notes on where the teacher came from, and bad teacher flags.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runEvaluate, type EvaluateCommandOptions } from '../../src/cli/commands/evaluate.ts';
import { CliError } from '../../src/cli/errors.ts';
import { writeTeacherFeatures } from '../../src/model/student/teacher-features.ts';
import { teacherDataset, writeDatasetFile } from '../teacher/fixtures.ts';
import { backend } from '../teacher/helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'leader-eval-teacher-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(backend);

const ds = teacherDataset(24, 8);
const file = path.join(dir, 'teacher-dataset.jsonl');
writeDatasetFile(file, ds);

const base = (over: Partial<EvaluateCommandOptions>): EvaluateCommandOptions => ({
  dataset: file,
  methods: 'leader-t',
  folds: '2',
  validation: '0.2',
  rounds: '2',
  seed: '5',
  protocol: 'last',
  out: path.join(dir, 'out'),
  progress: false,
  studentEpochs: '1',
  studentDim: '16',
  teacherSteps: '3',
  teacherPretrainSteps: '1',
  teacherHidden: '32',
  teacherLayers: '1',
  teacherContext: '128',
  teacherVocab: '300',
  teacherBatch: '8',
  teacherAccumulation: '1',
  teacherBackend: 'wasm',
  ...over,
});

test('--methods ablation runs the five variants with per-fold teachers and says so in the report', async () => {
  const out = path.join(dir, 'ablation');
  const { report, files } = await runEvaluate(base({ methods: 'ablation,leader-s', out }));
  assert.deepEqual(report.methods.map((m) => m.name), ['leader-s-nodistill', 'leader-s-align', 'leader-s-features', 'leader-s', 'leader-t']);
  for (const m of report.methods) assert.equal(m.folds.length, 2);
  assert.ok(report.notes.includes("leader-s-features, leader-s, leader-t: a teacher fitted per fold on that fold's training patients only, shared by these methods."));
  assert.match(readFileSync(files[2]!, 'utf8'), /a teacher fitted per fold/);
});

test('a features file given explicitly is used for leader-s and marked "teacher fitted outside the fold"', async () => {
  const features = path.join(dir, 'features');
  const dim = 8;
  await writeTeacherFeatures(features, {
    dim,
    rows: ds.records.map((r) => ({ patientId: r.patientId, encounterId: r.encounterId })),
    data: Float32Array.from({ length: ds.records.length * dim }, (_, i) => Math.sin(i)),
    source: 'test',
  });
  const { report } = await runEvaluate(base({ methods: 'leader-s', teacherStates: features, out: path.join(dir, 'outside') }));
  assert.equal(report.methods[0]!.name, 'leader-s');
  assert.ok(report.notes.some((n) => n.startsWith('leader-s: teacher fitted outside the fold (features from ')), report.notes.join('\n'));
  assert.ok(!report.notes.some((n) => /fitted per fold/.test(n)));
});

test('bad teacher flags are refused with the flag named, before anything is trained', async () => {
  const cases: Array<[Partial<EvaluateCommandOptions>, RegExp]> = [
    [{ teacherSteps: '0' }, /--teacher-steps must be at least 1/],
    [{ teacherLr: 'fast' }, /--teacher-lr must be a number/],
    [{ teacherHidden: '12.5' }, /--teacher-hidden must be an integer/],
    [{ teacherCheckpoint: path.join(dir, 'no-such-checkpoint') }, /--teacher-checkpoint .*no config\.json there/],
    [{ teacherBackend: 'tpu' }, /--teacher-backend: /],
  ];
  for (const [over, message] of cases) {
    await assert.rejects(runEvaluate(base(over)), (err: unknown) => err instanceof CliError && message.test(err.message), String(message));
  }
});
