import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/eval/harness.ts';
import { methodFactory } from '../../src/eval/registry.ts';
import { renderHtmlReport } from '../../src/eval/report-html.ts';
import { metricTableMarkdown, metricTableText } from '../../src/eval/report-table.ts';
import { syntheticDataset, syntheticInteracts } from './fixtures/synthetic-dataset.ts';

test('HTML report is self-contained and carries the metric table, scatter and curves', async () => {
  const ds = syntheticDataset({ patients: 200, seed: 12 });
  const report = await evaluate({
    dataset: ds,
    methods: await Promise.all(['most-frequent', 'logreg'].map(async (name) => ({ name, create: await methodFactory(name) }))),
    split: { kind: 'k-fold', folds: 3, validationFraction: 0.1 },
    rounds: 3,
    seed: 1,
    interacts: syntheticInteracts,
  });
  const html = renderHtmlReport(report, 'test <report>');
  assert.ok(html.startsWith('<!doctype html>'));
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(html, /<script|<link|<img|@import|url\(/i);
  assert.match(html, /<title>test &lt;report&gt;<\/title>/);
  for (const m of report.methods) {
    const jac = m.summary.overall.jaccard;
    assert.ok(jac);
    // the table cell carries the exact mean ± std of the report
    assert.ok(html.includes(`${jac.mean.toFixed(4)} ± ${jac.std.toFixed(4)}`), `${m.name} Jaccard cell`);
    assert.ok(html.includes(`<td>${m.name}</td>`));
  }
  assert.equal((html.match(/<table>/g) ?? []).length, 3 + 1 + 1);
  // one scatter point per label with a positive, per method
  const points = report.methods.reduce((a, m) => a + m.perLabel.filter((l) => l.prAuc !== null).length, 0);
  assert.equal((html.match(/<circle /g) ?? []).length, points);
  assert.match(html, /logreg: training loss/);
  assert.match(html, /logreg: validation PR-AUC/);
  const text = metricTableText(report);
  assert.match(text, /All patients: 200 test samples/);
  assert.match(text, /\(ground truth\)/);
  const md = metricTableMarkdown(report);
  assert.equal((md.match(/^\| logreg \|/gm) ?? []).length, 3);
});
