// Validation-chosen thresholds: the grid search itself, and logreg using it inside the evaluation harness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseThreshold, THRESHOLD_GRID } from '../../src/eval/threshold.ts';
import { jaccard, predictedSet } from '../../src/eval/metrics.ts';
import { evaluate } from '../../src/eval/harness.ts';
import { methodFactory } from '../../src/eval/registry.ts';
import { SeededRandom } from '../../src/eval/random.ts';
import { syntheticDataset } from './fixtures/synthetic-dataset.ts';

test('chooseThreshold returns the grid cut with the best mean Jaccard, and the fallback without data', () => {
  const rng = new SeededRandom(9);
  const scores = Array.from({ length: 40 }, () => Float32Array.from({ length: 8 }, () => rng.float()));
  const truths = scores.map((s) => new Set([...s.keys()].filter((i) => s[i]! > 0.62 || (i === 0 && s[i]! > 0.3))));
  const mean = (t: number) => scores.reduce((sum, s, i) => sum + jaccard(predictedSet(s, t), truths[i]!), 0) / scores.length;
  const expected = Math.max(...THRESHOLD_GRID.map(mean));
  const choice = chooseThreshold(scores, truths, 0.3);
  assert.ok(THRESHOLD_GRID.includes(choice.threshold));
  assert.equal(choice.jaccard, expected);
  assert.equal(mean(choice.threshold), expected);
  // The planted cut is 0.62: the best grid point is one of its neighbours, not the fallback.
  assert.ok(choice.threshold >= 0.55 && choice.threshold <= 0.65, `chose ${choice.threshold}`);
  assert.deepEqual(chooseThreshold([], [], 0.3), { threshold: 0.3, jaccard: Number.NaN });
  assert.throws(() => chooseThreshold(scores, truths.slice(1), 0.3), RangeError);
});

test('logreg with thresholdFrom validation reports the threshold it chose, and scores with it', async () => {
  const dataset = syntheticDataset({ patients: 160, seed: 4 });
  const run = async (thresholdFrom: 'fixed' | 'validation') =>
    evaluate({
      dataset,
      methods: [{ name: 'logreg', create: await methodFactory('logreg', { thresholdFrom }) }],
      split: { kind: 'holdout', train: 0.7, validation: 0.15, test: 0.15 },
      rounds: 2,
      seed: 3,
      protocol: 'last',
    });
  const fixed = (await run('fixed')).methods[0]!;
  const tuned = (await run('validation')).methods[0]!;
  assert.equal(fixed.threshold, 0.5);
  assert.ok(THRESHOLD_GRID.includes(tuned.threshold), `threshold ${tuned.threshold}`);
  // Same model (same seed and split): ranking metrics are equal, set metrics follow the threshold.
  assert.equal(tuned.summary.overall.prAuc?.mean, fixed.summary.overall.prAuc?.mean);
  if (tuned.threshold !== 0.5) assert.notEqual(tuned.summary.overall.med?.mean, fixed.summary.overall.med?.mean);
});
