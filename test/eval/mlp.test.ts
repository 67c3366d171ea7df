import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { MlpRecommender } from '../../src/eval/baselines/mlp.ts';
import { LogisticRegressionRecommender } from '../../src/eval/baselines/logistic-regression.ts';
import { methodFactory, METHOD_NAMES } from '../../src/eval/registry.ts';
import { meanAveragePrecision } from '../../src/eval/metrics.ts';
import type { FitProgress } from '../../src/eval/method.ts';
import { SeededRandom } from '../../src/eval/random.ts';

function rec(id: string, diagnoses: string[], labels: string[]): DatasetRecord {
  return {
    patientId: id,
    encounterId: `${id}-e`,
    visitIndex: 0,
    patientVisits: 1,
    start: '2020-01-01T00:00:00Z',
    profile: {},
    history: [],
    diagnoses,
    procedures: [],
    labels,
  };
}

/**
 * Two XOR pairs: label Xk iff exactly one of dx Ak, Bk is present, label Nk otherwise, plus noise codes.
 * Each pair's marginals carry no signal, so no linear function of the codes separates Xk from Nk.
 */
function xorRecords(n: number, seed: number): DatasetRecord[] {
  const rand = new SeededRandom(seed);
  const out: DatasetRecord[] = [];
  for (let i = 0; i < n; i++) {
    const dx: string[] = [];
    const labels: string[] = [];
    for (const k of [0, 1]) {
      const a = rand.float() < 0.5;
      const b = rand.float() < 0.5;
      if (a) dx.push(`icd:A${k}`);
      if (b) dx.push(`icd:B${k}`);
      labels.push(a !== b ? `X${k}` : `N${k}`);
    }
    dx.push(`icd:noise${rand.int(0, 9)}`);
    out.push(rec(`p${i}`, dx, labels));
  }
  return out;
}

const XOR_LABELS = ['X0', 'N0', 'X1', 'N1'];
const truthsOf = (records: readonly DatasetRecord[], labels: readonly string[]) =>
  records.map((r) => new Set(r.labels.map((l) => labels.indexOf(l))));

test('the MLP learns an XOR interaction that logistic regression cannot', async () => {
  const records = xorRecords(1200, 11);
  const [train, valid, held] = [records.slice(0, 800), records.slice(800, 1000), records.slice(1000)];
  const truths = truthsOf(held, XOR_LABELS);
  const mlp = new MlpRecommender({ hidden: 32, learningRate: 0.01, maxEpochs: 60, patience: 10, dropout: 0 });
  await mlp.fit(train, valid, { labels: XOR_LABELS, seed: 5 });
  const lr = new LogisticRegressionRecommender({ maxEpochs: 60, patience: 10 });
  await lr.fit(train, valid, { labels: XOR_LABELS, seed: 5 });
  const mlpAp = meanAveragePrecision(await mlp.predict(held), truths);
  const lrAp = meanAveragePrecision(await lr.predict(held), truths);
  // Two positives of four ranked at random average 0.68; a perfect ranking is 1.
  assert.ok(mlpAp > 0.99, `mlp PR-AUC ${mlpAp}`);
  assert.ok(lrAp < 0.75, `logreg PR-AUC ${lrAp} should stay near chance (0.68)`);
});

test('the MLP is seeded: same seed, identical predictions; another seed differs', async () => {
  const records = xorRecords(400, 3);
  const [train, valid, held] = [records.slice(0, 250), records.slice(250, 320), records.slice(320)];
  const run = async (seed: number, dropout: number) => {
    const m = new MlpRecommender({ hidden: 16, learningRate: 0.01, maxEpochs: 8, patience: 8, dropout });
    const fit = await m.fit(train, valid, { labels: XOR_LABELS, seed });
    return { fit, scores: await m.predict(held) };
  };
  for (const dropout of [0, 0.3]) {
    const a = await run(7, dropout);
    const b = await run(7, dropout);
    assert.deepEqual(a.scores, b.scores);
    assert.deepEqual(a.fit.curve, b.fit.curve);
    const c = await run(8, dropout);
    assert.notDeepEqual(a.scores, c.scores);
  }
});

test('early stopping stops after `patience` epochs without improvement and restores the best epoch', async () => {
  // Labels are noise: training memorises it, so validation PR-AUC peaks early and then drifts.
  const rand = new SeededRandom(21);
  const labels = ['A', 'B', 'C', 'D', 'E', 'F'];
  const records = Array.from({ length: 300 }, (_, i) =>
    rec(
      `p${i}`,
      Array.from({ length: 4 }, () => `icd:D${rand.int(0, 39)}`),
      [...new Set(Array.from({ length: 2 }, () => labels[rand.int(0, 5)] as string))],
    ),
  );
  const [train, valid] = [records.slice(0, 200), records.slice(200)];
  const events: FitProgress[] = [];
  const patience = 3;
  const m = new MlpRecommender({ hidden: 64, learningRate: 0.02, maxEpochs: 100, patience, dropout: 0 });
  const fit = await m.fit(train, valid, { labels, seed: 4, onProgress: (e) => events.push(e) });
  const curve = fit.curve ?? [];
  const bestEpoch = fit.bestEpoch as number;
  assert.ok(curve.length < 100, 'stopped early');
  assert.equal(curve.length, bestEpoch + patience);
  const stop = events.find((e) => e.type === 'early-stop');
  assert.deepEqual(stop && stop.type === 'early-stop' ? [stop.epoch, stop.bestEpoch] : undefined, [curve.length, bestEpoch]);
  const best = curve[bestEpoch - 1]?.validPrAuc as number;
  const last = curve.at(-1)?.validPrAuc as number;
  assert.ok(best > last + 0.01, `best ${best} vs last ${last}: the test needs a visible decline`);
  // The fitted model scores validation as the best epoch did, not as the last one.
  const restored = meanAveragePrecision(await m.predict(valid), truthsOf(valid, labels));
  assert.ok(Math.abs(restored - best) < 1e-4, `restored ${restored} vs best epoch ${best} (last ${last})`);
});

test('the MLP reports epochs with throughput, and chooses its threshold on validation when asked', async () => {
  const records = xorRecords(300, 9);
  const events: FitProgress[] = [];
  const m = new MlpRecommender({ hidden: 16, learningRate: 0.01, maxEpochs: 3, patience: 3, thresholdFrom: 'validation', threshold: 0.5 });
  await m.fit(records.slice(0, 200), records.slice(200), { labels: XOR_LABELS, seed: 1, onProgress: (e) => events.push(e) });
  const epochs = events.filter((e) => e.type === 'epoch');
  assert.equal(epochs.length, 3);
  for (const e of epochs) assert.ok(e.type === 'epoch' && (e.samplesPerSecond as number) > 0 && e.validPrAuc !== undefined);
  assert.ok(m.threshold > 0 && m.threshold < 1);
});

test('bad MLP options and misuse are clear errors', async () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ hidden: 0 }, /hidden must be a positive integer, got 0/],
    [{ hidden: 2.5 }, /hidden must be a positive integer/],
    [{ dropout: 1 }, /dropout must be in \[0, 1\), got 1/],
    [{ dropout: -0.1 }, /dropout must be in/],
    [{ learningRate: 0 }, /learningRate must be a positive number/],
    [{ learningRate: Number.NaN }, /learningRate must be a positive number/],
    [{ l2: -1 }, /l2 must be a number >= 0/],
    [{ batchSize: 0 }, /batchSize must be a positive integer/],
    [{ maxEpochs: 0 }, /maxEpochs must be a positive integer/],
    [{ patience: 0 }, /patience must be a positive integer/],
    [{ minCount: 0 }, /minCount must be a positive integer/],
    [{ threshold: 1 }, /threshold must be in \(0, 1\)/],
    [{ thresholdFrom: 'best' }, /thresholdFrom must be 'fixed' or 'validation'/],
  ];
  for (const [options, message] of bad) assert.throws(() => new MlpRecommender(options), message, JSON.stringify(options));
  await assert.rejects(new MlpRecommender().predict([rec('x', [], [])]), /predict before fit/);
  await assert.rejects(new MlpRecommender().fit([], [], { labels: ['A'], seed: 1 }), /no training records/);
});

test('the registry builds mlp by name and passes thresholdFrom', async () => {
  assert.ok((METHOD_NAMES as readonly string[]).includes('mlp'));
  const records = xorRecords(200, 2);
  const m = (await methodFactory('mlp', { thresholdFrom: 'validation' }))() as MlpRecommender;
  assert.equal(m.name, 'mlp');
  assert.equal(m.options.thresholdFrom, 'validation');
  assert.equal(((await methodFactory('mlp'))() as MlpRecommender).options.thresholdFrom, 'fixed');
  await m.fit(records.slice(0, 150), records.slice(150), { labels: XOR_LABELS, seed: 1 });
  assert.equal((await m.predict(records.slice(0, 2)))[0]?.length, XOR_LABELS.length);
});
