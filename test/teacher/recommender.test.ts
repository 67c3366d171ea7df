import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DEFAULT_TEMPLATE } from '../../src/teacher/prompt.ts';
import { createTeacherRecommender } from '../../src/teacher/recommender.ts';
import { teacherDataset } from './fixtures.ts';
import { backend } from './helpers.ts';

before(backend);

describe('LEADER(T) as a recommender', () => {
  test('fit on training records, predict probabilities aligned with the label space, learning the planted rule', async () => {
    const ds = teacherDataset(40, 11);
    const patients = [...new Set(ds.records.map((r) => r.patientId))];
    const testPatients = new Set(patients.slice(0, 8));
    const train = ds.records.filter((r) => !testPatients.has(r.patientId));
    const test_ = ds.records.filter((r) => testPatients.has(r.patientId));
    // Reversed order: predictions must follow the harness's label order, not the teacher's.
    const labels = Object.keys(ds.summary.labelFrequencies).sort().reverse();
    const rec = createTeacherRecommender({
      names: ds.names,
      train: {
        template: { ...DEFAULT_TEMPLATE, maxHistory: 1 },
        maxTokens: 96,
        scratch: { tokenizerVocab: 400, model: { hiddenSize: 32, numLayers: 2, maxPositions: 96 }, pretrainSteps: 5 },
        steps: 40,
        batchSize: 8,
        accumulation: 1,
        learningRate: 3e-3,
      },
    });
    const messages: string[] = [];
    const report = await rec.fit(train, [], { labels, seed: 1, onProgress: (e) => e.type === 'message' && messages.push(e.text) });
    assert.equal(report.curve!.length, 40);
    assert.ok(messages.some((m) => /scratch decoder/.test(m)));
    const preds = await rec.predict(test_);
    assert.equal(preds.length, test_.length);
    let onTrue = 0;
    let nTrue = 0;
    let onFalse = 0;
    let nFalse = 0;
    preds.forEach((p, i) => {
      assert.equal(p.length, labels.length);
      labels.forEach((l, j) => {
        assert.ok(p[j]! > 0 && p[j]! < 1);
        if (test_[i]!.labels.includes(l)) {
          onTrue += p[j]!;
          nTrue++;
        } else {
          onFalse += p[j]!;
          nFalse++;
        }
      });
    });
    assert.ok(onTrue / nTrue > onFalse / nFalse + 0.05, `mean probability on given labels ${(onTrue / nTrue).toFixed(3)} vs others ${(onFalse / nFalse).toFixed(3)}`);
    await rec.close();
  });
});
