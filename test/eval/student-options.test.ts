// The evaluate command's --student-* flags: a bad value is refused naming its flag; good values reach training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStudentOptions, runEvaluate } from '../../src/cli/commands/evaluate.ts';
import { CliError } from '../../src/cli/errors.ts';
import { methodFactory } from '../../src/eval/registry.ts';
import { THRESHOLD_GRID } from '../../src/eval/threshold.ts';
import type { StudentRecommender } from '../../src/model/student/recommender.ts';
import { generateRecords } from '../model/helpers.ts';

const refuses = (opts: Parameters<typeof parseStudentOptions>[0], message: RegExp) =>
  assert.throws(
    () => parseStudentOptions(opts),
    (err: unknown) => {
      assert.ok(err instanceof CliError, String(err));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
      return true;
    },
  );

test('bad --student-* values are refused with the flag named', () => {
  refuses({ studentLr: 'fast' }, /--student-lr must be a number, got 'fast'/);
  refuses({ studentLr: '0' }, /--student-lr must be at least/);
  refuses({ studentLr: '3' }, /--student-lr must be at most 1/);
  refuses({ studentPatience: '2.5' }, /--student-patience must be an integer/);
  refuses({ studentPatience: '0' }, /--student-patience must be at least 1/);
  refuses({ studentBatch: '' }, /--student-batch must be an integer/);
  refuses({ studentDim: '30' }, /--student-dim must be a multiple of 4/);
  refuses({ studentDim: '-8' }, /--student-dim must be at least 4/);
  refuses({ studentHidden: 'wide' }, /--student-hidden must be an integer/);
  refuses({ studentRecency: 'recent' }, /--student-recency must be one of none, position, got 'recent'/);
  refuses({ studentWide: 'deep' }, /--student-wide must be one of none, linear, hidden, got 'deep'/);
  refuses({ studentWide: 'linear', studentWideLr: 'x' }, /--student-wide-lr must be a number, got 'x'/);
  refuses({ studentWideLr: '0.02' }, /--student-wide-lr needs --student-wide linear or hidden/);
  refuses({ studentWide: 'linear', studentWideL2: '-1' }, /--student-wide-l2 must be at least 0/);
  refuses({ studentWideL2: '1e-5' }, /--student-wide-l2 needs --student-wide linear or hidden/);
  refuses({ studentWide: 'linear', studentWideDropout: '0.5' }, /--student-wide-dropout needs --student-wide hidden/);
  refuses({ studentWide: 'hidden', studentWideDropout: '2' }, /--student-wide-dropout/);
  refuses({ studentEpochs: '0' }, /--student-epochs must be at least 1/);
});

test('runEvaluate refuses a bad student flag before reading the dataset', async () => {
  await assert.rejects(
    runEvaluate({ dataset: '/nonexistent.jsonl', methods: 'leader-s-nodistill', validation: '0.1', rounds: '1', seed: '1', protocol: 'last', out: '/nonexistent', progress: false, studentLr: '-1' }),
    (err: unknown) => err instanceof CliError && /--student-lr must be at least/.test(err.message),
  );
  await assert.rejects(
    runEvaluate({ dataset: '/nonexistent.jsonl', methods: 'logreg', validation: '0.1', rounds: '1', seed: '1', protocol: 'last', out: '/nonexistent', progress: false, thresholdFrom: 'best' }),
    (err: unknown) => err instanceof CliError && /--threshold-from must be fixed or validation, got 'best'/.test(err.message),
  );
});

test('parsed student options reach training: the fitted model has the shape, learning rate, batch and patience asked for', async () => {
  const student = parseStudentOptions({ studentEpochs: '6', studentLr: '0.003', studentPatience: '1', studentBatch: '16', studentDim: '8', studentHidden: '6', studentRecency: 'position', studentWide: 'linear', studentWideLr: '0.03', studentWideL2: '1e-4' });
  assert.deepEqual(student, { epochs: 6, learningRate: 0.003, patience: 1, batchSize: 16, dim: 8, hidden: 6, recency: 'position', wide: 'linear', wideLearningRate: 0.03, wideL2: 1e-4 });
  const records = generateRecords({ patients: 60, seed: 5 });
  const labels = [...new Set(records.flatMap((r) => r.labels))].sort();
  const create = await methodFactory('leader-s-nodistill', { student: { ...student, thresholdFrom: 'validation' } });
  const rec = (await create()) as StudentRecommender;
  try {
    const report = await rec.fit(records.slice(0, 150), records.slice(150), { labels, seed: 3 });
    const m = rec.manifest!;
    assert.equal(m.config.dim, 8);
    assert.equal(m.config.hidden, 6);
    assert.equal(m.config.recency, 'position');
    assert.equal(m.config.wide, 'linear');
    assert.equal(m.training.learningRate, 0.003);
    assert.equal(m.training.batchSize, 16);
    // Patience 1: training stops one epoch after the best one, unless the epoch budget ends first.
    const ran = report.curve!.length;
    assert.ok(ran <= 6 && (ran === 6 || ran === report.bestEpoch! + 1), `ran ${ran} epochs, best ${report.bestEpoch}`);
    assert.ok(THRESHOLD_GRID.includes(rec.threshold), `validation-chosen threshold ${rec.threshold}`);
    const probs = await rec.predict(records.slice(150, 152));
    assert.equal(probs[0]!.length, labels.length);
  } finally {
    await rec.close();
  }
});
