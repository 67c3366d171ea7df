import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import type { FitContext, Recommender } from '../../src/eval/method.ts';
import { evaluate, meanStd, protocolSamples, type MethodInput } from '../../src/eval/harness.ts';
import { methodFactory, MethodUnavailableError } from '../../src/eval/registry.ts';
import { syntheticDataset, syntheticInteracts } from './fixtures/synthetic-dataset.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Predicts the truth for even-numbered patients and nothing for odd ones. */
let closed = 0;
class HalfOracle implements Recommender {
  readonly name = 'half-oracle';
  async close() {
    closed++;
  }
  readonly threshold = 0.5;
  private labels: readonly string[] = [];
  async fit(_t: readonly DatasetRecord[], _v: readonly DatasetRecord[], ctx: FitContext) {
    this.labels = ctx.labels;
    return { seconds: 0 };
  }
  async predict(records: readonly DatasetRecord[]) {
    return records.map((r) => {
      const v = new Float32Array(this.labels.length);
      if (Number(r.patientId.slice(4)) % 2 === 0) for (const l of r.labels) v[this.labels.indexOf(l)] = 1;
      return v;
    });
  }
}

const named = async (name: string): Promise<MethodInput> => ({ name, create: await methodFactory(name) });

test('meanStd is the population mean and std and ignores null', () => {
  assert.deepEqual(meanStd([1, 3, null]), { mean: 2, std: 1, n: 2 });
  assert.equal(meanStd([null]), null);
});

test('protocol last keeps one sample per patient, its last encounter', () => {
  const ds = syntheticDataset({ patients: 50, seed: 1 });
  const last = protocolSamples(ds.records, 'last');
  assert.equal(last.length, 50);
  for (const r of last) assert.equal(r.visitIndex, r.patientVisits - 1);
  assert.equal(protocolSamples(ds.records, 'all').length, ds.records.length);
});

test('previous-encounter baseline is perfect on multi-encounter patients when medications repeat', async () => {
  const ds = syntheticDataset({ patients: 300, seed: 2, repeatOnly: true, chronic: 3 });
  const report = await evaluate({
    dataset: ds,
    methods: [await named('previous'), await named('most-frequent')],
    split: { kind: 'holdout', train: 0.8, validation: 0.1, test: 0.1 },
    rounds: 5,
    seed: 3,
    interacts: syntheticInteracts,
  });
  const prev = report.methods.find((m) => m.name === 'previous');
  assert.ok(prev);
  for (const k of ['jaccard', 'f1', 'prAuc'] as const) {
    assert.equal(prev.summary.multi[k]?.mean, 1);
    assert.equal(prev.summary.multi[k]?.std, 0);
    assert.equal(prev.summary.multi[k]?.n, 5);
  }
  assert.ok((prev.summary.single.jaccard?.mean as number) < 1);
  // the predicted sets are the true sets, so their DDI rate and #Med equal the ground truth's
  assert.deepEqual(prev.summary.multi.med, report.groundTruth.multi.med);
  assert.deepEqual(prev.summary.multi.ddiRate, report.groundTruth.multi.ddiRate);
  assert.ok((report.groundTruth.multi.ddiRate?.mean as number) > 0);
  assert.equal(report.summaryAcross, 'rounds');
  assert.equal(report.protocol, 'last');
  assert.ok(report.groundTruth.overall.ddiRate !== null);
  assert.equal(report.groundTruth.overall.jaccard, null);
  const mf = report.methods.find((m) => m.name === 'most-frequent');
  assert.ok((mf?.summary.multi.jaccard?.mean as number) < 0.9);
});

test('k-fold: every sample tested once, per-fold figures, spread across folds and rounds', async () => {
  const ds = syntheticDataset({ patients: 250, seed: 4 });
  const events: string[] = [];
  closed = 0;
  const report = await evaluate({
    dataset: ds,
    methods: [{ name: 'half-oracle', create: () => new HalfOracle() }, await named('most-frequent')],
    split: { kind: 'k-fold', folds: 5, validationFraction: 0.1 },
    rounds: 4,
    seed: 8,
    protocol: 'all',
    onProgress: (e) => events.push(e.type),
  });
  assert.equal(report.dataset.samples, ds.records.length);
  const half = report.methods[0];
  assert.ok(half);
  assert.equal(half.folds.length, 5);
  assert.equal(half.folds.reduce((a, f) => a + f.testSamples, 0), ds.records.length);
  assert.equal(report.testSamples.overall, ds.records.length);
  assert.equal(report.testSamples.single, ds.records.filter((r) => r.history.length === 0).length);
  assert.equal(report.testSamples.single + report.testSamples.multi, report.testSamples.overall);
  assert.equal(half.summary.overall.jaccard?.n, 5);
  assert.equal(half.rounds.overall.jaccard?.n, 20);
  // Jaccard is 1 for even patients and 0 for odd ones: fold means are the share of even-patient samples.
  const even = ds.records.filter((r) => Number(r.patientId.slice(4)) % 2 === 0).length / ds.records.length;
  const foldMeans = half.folds.map((f) => f.full.overall.jaccard as number);
  const weighted = half.folds.reduce((a, f, i) => a + (foldMeans[i] as number) * f.testSamples, 0) / ds.records.length;
  assert.ok(Math.abs(weighted - even) < 1e-9);
  assert.deepEqual(half.summary.overall.jaccard, meanStd(foldMeans));
  assert.ok((half.rounds.overall.jaccard?.std as number) > 0);
  assert.equal(report.ddi, false);
  assert.equal(half.summary.overall.ddiRate, null);
  assert.equal(half.perLabel.length, report.labels.length);
  assert.equal(half.perLabel.reduce((a, l) => a + l.testPositives, 0), ds.records.reduce((a, r) => a + r.labels.length, 0));
  assert.equal(events.filter((e) => e === 'method-done').length, 10);
  assert.equal(closed, 5, 'every fold closes its recommender');
  assert.ok(report.notes.some((n) => n.includes('Protocol "all"')));
  assert.ok(report.comparisons.length > 0);
});

test('rounds are deterministic by seed', async () => {
  const ds = syntheticDataset({ patients: 200, seed: 6 });
  const run = (seed: number) =>
    evaluate({ dataset: ds, methods: [{ name: 'h', create: () => new HalfOracle() }], split: { kind: 'holdout', train: 0.6, validation: 0.1, test: 0.3 }, rounds: 10, seed });
  const [a, b, c] = await Promise.all([run(1), run(1), run(2)]);
  assert.deepEqual(a?.methods[0]?.summary, b?.methods[0]?.summary);
  assert.notDeepEqual(a?.methods[0]?.summary, c?.methods[0]?.summary);
});

test('bad predictions and unknown or unavailable methods give clear errors', async () => {
  const ds = syntheticDataset({ patients: 60, seed: 7 });
  const broken: Recommender = { name: 'broken', threshold: 0.5, fit: async () => ({ seconds: 0 }), predict: async (rs) => rs.map(() => new Float32Array(1)) };
  await assert.rejects(
    evaluate({ dataset: ds, methods: [{ name: 'broken', create: () => broken }], split: { kind: 'k-fold', folds: 2, validationFraction: 0 }, rounds: 1 }),
    /method broken: score vector 0 has 1 entries/,
  );
  await assert.rejects(methodFactory('gamenet'), /unknown method "gamenet"; known methods: most-frequent/);
  await assert.rejects(methodFactory('leader-s', { studentModule: path.join(here, 'fixtures/nope.ts') }), (err: unknown) => {
    assert.ok(err instanceof MethodUnavailableError);
    assert.equal(err.method, 'leader-s');
    assert.match(err.message, /method leader-s is not available: .*nope\.ts does not exist/);
    return true;
  });
  await assert.rejects(methodFactory('leader-s', { studentModule: path.join(here, 'fixtures/synthetic-dataset.ts') }), /does not export createStudentRecommender/);
});

test('student methods load through the module contract; nodistill sets alpha = beta = 0', async () => {
  const fixture = path.join(here, 'fixtures/student-module.ts');
  const ds = syntheticDataset({ patients: 80, seed: 9 });
  const methods = await Promise.all(
    ['leader-s', 'leader-s-nodistill'].map(async (name) => ({ name, create: await methodFactory(name, { studentModule: fixture, student: { teacherStates: 't.bin' } }) })),
  );
  const report = await evaluate({ dataset: ds, methods, split: { kind: 'k-fold', folds: 2, validationFraction: 0.1 }, rounds: 2 });
  assert.deepEqual(report.methods.map((m) => m.name), ['leader-s', 'leader-s-nodistill']);
  const { built } = (await import('./fixtures/student-module.ts')) as typeof import('./fixtures/student-module.ts');
  assert.deepEqual(built.find((o) => o.name === 'leader-s'), { name: 'leader-s', teacherStates: 't.bin' });
  assert.deepEqual(built.find((o) => o.name === 'leader-s-nodistill'), { name: 'leader-s-nodistill', teacherStates: 't.bin', alpha: 0, beta: 0 });
});
