import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  averagePrecision,
  ddiPairs,
  ddiRate,
  f1,
  InteractionMatrix,
  jaccard,
  meanAveragePrecision,
  meanDefined,
  predictedSet,
} from '../../src/eval/metrics.ts';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('jaccard and f1 on hand-computed sets', () => {
  const p = new Set([0, 1, 2]);
  const t = new Set([1, 2, 3, 4]);
  close(jaccard(p, t), 2 / 5);
  close(f1(p, t), (2 * 2) / (3 + 4));
  close(jaccard(new Set([1]), new Set([1])), 1);
});

test('jaccard and f1 with empty predictions or empty truth', () => {
  assert.equal(jaccard(new Set(), new Set([1, 2])), 0);
  assert.equal(f1(new Set(), new Set([1, 2])), 0);
  assert.equal(jaccard(new Set([3]), new Set()), 0);
  assert.equal(f1(new Set([3]), new Set()), 0);
  assert.equal(jaccard(new Set(), new Set()), 1);
  assert.equal(f1(new Set(), new Set()), 1);
});

test('average precision without ties', () => {
  // ranks: 0 (hit, P=1), 1 (miss), 2 (hit, P=2/3)
  close(averagePrecision([0.9, 0.8, 0.7, 0.6], new Set([0, 2])), 0.5 * 1 + 0.5 * (2 / 3));
  close(averagePrecision([0.1, 0.2, 0.3, 0.4], new Set([0])), 1 / 4);
  close(averagePrecision(Float32Array.from([0.9, 0.8, 0.1]), new Set([0, 1])), 1);
});

test('average precision treats tied scores as one threshold', () => {
  // The positive sits in a group of three tied labels: precision 1/3 wherever it is in the group.
  for (const pos of [0, 1, 2]) close(averagePrecision([0.5, 0.5, 0.5, 0.1], new Set([pos])), 1 / 3);
  // group {0}: R=.5 P=1; group {1,2}: R=.5 P=2/4... then {3}
  close(averagePrecision([0.9, 0.5, 0.5, 0.1], new Set([0, 3])), 0.5 * 1 + 0.5 * (2 / 4));
  close(averagePrecision([0.9, 0.5, 0.5, 0.1], new Set([0, 2])), 0.5 * 1 + 0.5 * (2 / 3));
  // All scores equal: AP is the positive rate.
  close(averagePrecision([0, 0, 0, 0, 0], new Set([1, 4])), 2 / 5);
});

test('average precision of a sample with no positive label is NaN and skipped in means', () => {
  assert.ok(Number.isNaN(averagePrecision([0.3, 0.7], new Set())));
  const m = meanDefined([1, Number.NaN, 0.5]);
  assert.deepEqual(m, { mean: 0.75, count: 2 });
  close(meanAveragePrecision([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], [new Set([0]), new Set(), new Set([0])]), (1 + 0.5) / 2);
  assert.throws(() => averagePrecision([0.1], new Set([3])), /outside the score vector/);
});

test('predictedSet applies the threshold inclusively', () => {
  assert.deepEqual([...predictedSet([0.3, 0.29, 0.9], 0.3)], [0, 2]);
});

test('ddi rate counts unordered pairs and pools over samples', () => {
  const labels = ['A', 'B', 'C', 'D'];
  const pairs = new Set(['A|B', 'C|D']);
  const interacts = (a: string, b: string) => pairs.has(`${a}|${b}`) || pairs.has(`${b}|${a}`);
  assert.deepEqual(ddiPairs(new Set([0, 1, 2]), labels, interacts), { pairs: 3, interacting: 1 });
  close(ddiRate([new Set([0, 1, 2])], labels, interacts), 1 / 3);
  // pooled: (1 + 1) / (3 + 1), not the mean of 1/3 and 1
  close(ddiRate([new Set([0, 1, 2]), new Set([2, 3])], labels, interacts), 2 / 4);
  assert.equal(ddiRate([new Set([0]), new Set()], labels, interacts), 0);
  const m = new InteractionMatrix(labels, interacts);
  assert.deepEqual(m.pairs([0, 1, 2, 3]), ddiPairs([0, 1, 2, 3], labels, interacts));
  assert.ok(m.has(1, 0) && !m.has(0, 2));
});
