import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitByPatient } from '../../src/eval/splits.ts';
import { createStudentRecommender, StudentRecommender } from '../../src/model/student/recommender.ts';
import { generateRecords, tinyConfig } from './helpers.ts';

test('the student as a Recommender: fit, then one probability vector per record aligned with ctx.labels', async () => {
  const records = generateRecords({ patients: 40, seed: 6 });
  const split = splitByPatient(records, { train: 0.7, validation: 0.15, test: 0.15 }, 2);
  // The evaluation's label vocabulary may hold labels the training part never saw.
  const labels = [...new Set([...records.flatMap((r) => r.labels), 'Z99'])].sort();
  const rec = new StudentRecommender({ name: 'leader-s-nodistill', alpha: 0, beta: 0.005, epochs: 2, backend: 'wasm', config: tinyConfig, batchSize: 16 });
  const events: string[] = [];
  const report = await rec.fit(split.train, split.validation, { labels, seed: 1, onProgress: (e) => events.push(e.type) });
  assert.ok(report.seconds > 0);
  assert.ok(events.includes('epoch'));
  const scores = await rec.predict(split.test);
  assert.equal(scores.length, split.test.length);
  for (const s of scores) {
    assert.equal(s.length, labels.length);
    for (const p of s) assert.ok(p >= 0 && p <= 1);
  }
  assert.equal(rec.threshold, 0.3);
  await rec.close();
});

test('distillation without teacher features is refused; predict before fit is an error', async () => {
  const rec = createStudentRecommender({ name: 'leader-s', alpha: 0.4 });
  await assert.rejects(rec.fit([], [], { labels: ['A'], seed: 1 }), /alpha 0\.4 needs teacher features/);
  await assert.rejects(createStudentRecommender({ name: 'leader-s' }).predict([]), /predict before fit/);
});
