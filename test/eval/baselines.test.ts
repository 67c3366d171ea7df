import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { MostFrequentRecommender } from '../../src/eval/baselines/most-frequent.ts';
import { PreviousEncounterRecommender } from '../../src/eval/baselines/previous-encounter.ts';
import { LogisticRegressionRecommender } from '../../src/eval/baselines/logistic-regression.ts';
import { medianLabelCount } from '../../src/eval/baselines/label-frequency.ts';
import { labelVocabulary } from '../../src/eval/harness.ts';
import { meanAveragePrecision, predictedSet } from '../../src/eval/metrics.ts';
import { SeededRandom } from '../../src/eval/random.ts';
import { syntheticDataset } from './fixtures/synthetic-dataset.ts';

function rec(id: string, labels: string[], extra: Partial<DatasetRecord> = {}): DatasetRecord {
  return {
    patientId: id,
    encounterId: `${id}-e`,
    visitIndex: 0,
    patientVisits: 1,
    start: '2020-01-01T00:00:00Z',
    profile: {},
    history: [],
    diagnoses: ['icd:X'],
    procedures: [],
    labels,
    ...extra,
  };
}

test('most-frequent predicts the top-k training labels, k = median labels per sample', async () => {
  const train = [rec('a', ['A', 'B']), rec('b', ['A', 'C']), rec('c', ['A', 'B', 'D']), rec('d', ['B'])];
  assert.equal(medianLabelCount(train), 2);
  const m = new MostFrequentRecommender();
  await m.fit(train, [], { labels: ['A', 'B', 'C', 'D'], seed: 1 });
  const [s] = await m.predict([rec('x', [])]);
  assert.ok(s);
  assert.deepEqual([...predictedSet(s, m.threshold)].sort(), [0, 1]);
  // ranking follows frequency: A (3/4) > B (3/4 tie, later) ... C, D (1/4)
  assert.ok((s[0] as number) >= (s[1] as number) && (s[1] as number) > (s[2] as number));
  await assert.rejects(new MostFrequentRecommender().predict([rec('x', [])]), /predict before fit/);
});

test('previous repeats the last earlier encounter and falls back to most-frequent on first visits', async () => {
  const train = [rec('a', ['A']), rec('b', ['A']), rec('c', ['B'])];
  const p = new PreviousEncounterRecommender();
  await p.fit(train, [], { labels: ['A', 'B', 'C'], seed: 1 });
  const withHistory = rec('x', ['C'], {
    visitIndex: 2,
    history: [
      { encounterId: 'h0', start: '2019-01-01', diagnoses: [], procedures: [], medications: ['A'] },
      { encounterId: 'h1', start: '2019-06-01', diagnoses: [], procedures: [], medications: ['B', 'C', 'UNKNOWN'] },
    ],
  });
  const [h, first] = await p.predict([withHistory, rec('y', [])]);
  assert.deepEqual([...predictedSet(h as Float32Array, p.threshold)].sort(), [1, 2]);
  assert.deepEqual([...predictedSet(first as Float32Array, p.threshold)], [0]);
});

test('logistic regression learns a planted diagnosis -> label rule', async () => {
  // dx:Dk implies label Lk exactly; three codes per record.
  const labels = ['L0', 'L1', 'L2', 'L3', 'L4', 'L5'];
  const records: DatasetRecord[] = [];
  const rand = new SeededRandom(17);
  for (let i = 0; i < 600; i++) {
    const set = [...new Set(Array.from({ length: rand.int(1, 3) }, () => rand.int(0, 5)))].sort();
    records.push(rec(`p${i}`, set.map((k) => `L${k}`), { diagnoses: set.map((k) => `icd:D${k}`) }));
  }
  const lr = new LogisticRegressionRecommender({ maxEpochs: 60, patience: 60 });
  const fit = await lr.fit(records.slice(0, 500), records.slice(500, 550), { labels, seed: 3 });
  assert.ok(fit.curve && fit.curve.length >= 2);
  assert.ok((fit.curve.at(-1)?.trainLoss as number) < (fit.curve[0]?.trainLoss as number));
  const test = records.slice(550);
  const scores = await lr.predict(test);
  const truths = test.map((r) => new Set(r.labels.map((l) => labels.indexOf(l))));
  assert.ok(meanAveragePrecision(scores, truths) > 0.99);
  for (let i = 0; i < test.length; i++) {
    assert.deepEqual([...predictedSet(scores[i] as Float32Array, lr.threshold)], [...(truths[i] as Set<number>)].sort());
  }
});

test('logistic regression is seeded and beats most-frequent on structured data', async () => {
  const ds = syntheticDataset({ patients: 800, seed: 5, labels: 30, diagnoses: 60 });
  const labels = labelVocabulary(ds.records);
  const train = ds.records.filter((r) => Number(r.patientId.slice(4)) < 600);
  const test = ds.records.filter((r) => Number(r.patientId.slice(4)) >= 700);
  const valid = ds.records.filter((r) => Number(r.patientId.slice(4)) >= 600 && Number(r.patientId.slice(4)) < 700);
  const truths = test.map((r) => new Set(r.labels.map((l) => labels.indexOf(l))));
  const a = new LogisticRegressionRecommender();
  const b = new LogisticRegressionRecommender();
  await a.fit(train, valid, { labels, seed: 9 });
  await b.fit(train, valid, { labels, seed: 9 });
  const sa = await a.predict(test);
  assert.deepEqual(sa, await b.predict(test));
  const mf = new MostFrequentRecommender();
  await mf.fit(train, valid, { labels, seed: 9 });
  const lrAp = meanAveragePrecision(sa, truths);
  const mfAp = meanAveragePrecision(await mf.predict(test), truths);
  assert.ok(lrAp > mfAp + 0.2, `logreg ${lrAp} vs most-frequent ${mfAp}`);
});
