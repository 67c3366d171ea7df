// The evaluation report as one self-contained HTML page: metric tables, spread charts, per-label
// PR-AUC against training frequency, and training curves, all inline (no script, no network).
import { GROUPS, METRICS, type EvaluationReport, type MethodResult } from './harness.ts';
import { barChart, escapeHtml, lineChart, PALETTE, scatterChart, type Series } from './svg-plot.ts';
import { GROUP_TITLES, METRIC_TITLES, tableRows } from './report-table.ts';

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: 700; }
tr.truth td { color: #666; font-style: italic; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; } dt { font-weight: 600; } dd { margin: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { background: #fff; border: 1px solid #eee; }
svg.chart text { font-size: 10px; fill: #333; } svg.chart text.title { font-size: 12px; font-weight: 600; }
svg.chart .grid { stroke: #eee; } svg.chart .frame { fill: none; stroke: #999; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
ul.notes li { margin: 0.2em 0; }
`;

function splitText(r: EvaluationReport): string {
  return r.split.kind === 'k-fold'
    ? `${r.split.folds}-fold by patient (validation: ${Math.round(r.split.validationFraction * 100)}% of each fold's training patients)`
    : `holdout by patient, train/validation/test ${r.split.train}/${r.split.validation}/${r.split.test}`;
}

function metricTables(r: EvaluationReport): string {
  const out: string[] = [];
  for (const g of GROUPS) {
    const { header, rows } = tableRows(r, g);
    // Bold the best method per column (highest Jaccard/F1/PR-AUC, lowest DDI rate).
    const best = new Map<number, number>();
    METRICS.forEach((m, col) => {
      if (m === 'med') return;
      const vals = r.methods.map((x) => x.summary[g][m]?.mean ?? Number.NaN);
      const pick = m === 'ddiRate' ? Math.min(...vals.filter((v) => !Number.isNaN(v))) : Math.max(...vals.filter((v) => !Number.isNaN(v)));
      const idx = vals.indexOf(pick);
      if (idx >= 0 && r.methods.length > 1) best.set(col, idx);
    });
    out.push(`<h3>${escapeHtml(GROUP_TITLES[g])}: ${r.testSamples[g]} test samples</h3>`);
    out.push('<table><thead><tr>' + header.map((h) => `<th>${escapeHtml(h)}</th>`).join('') + '</tr></thead><tbody>');
    rows.forEach((row, i) => {
      const truth = i === r.methods.length;
      const cells = row.cells.map((c, col) => `<td${best.get(col) === i ? ' class="best"' : ''}>${escapeHtml(c)}</td>`).join('');
      out.push(`<tr${truth ? ' class="truth"' : ''}><td>${escapeHtml(row.method)}</td>${cells}</tr>`);
    });
    out.push('</tbody></table>');
  }
  return out.join('\n');
}

function comparisonTable(r: EvaluationReport): string {
  if (r.comparisons.length === 0) return '<p>Only one method: no comparison.</p>';
  const rows = r.comparisons.map(
    (c) =>
      `<tr><td>${escapeHtml(METRIC_TITLES[c.metric])}</td><td>${escapeHtml(c.better)}</td><td>${escapeHtml(c.other)}</td>` +
      `<td>${c.difference.mean >= 0 ? '+' : ''}${c.difference.mean.toFixed(4)} ± ${c.difference.std.toFixed(4)}</td>` +
      `<td>${c.wins} / ${c.difference.n}</td><td>${c.separated ? 'yes' : 'no'}</td></tr>`,
  );
  return (
    `<table><thead><tr><th>metric</th><th>best</th><th>vs</th><th>paired difference</th><th>ahead in (${escapeHtml(r.summaryAcross)})</th><th>separated</th></tr></thead><tbody>` +
    rows.join('') +
    '</tbody></table>'
  );
}

function spreadCharts(r: EvaluationReport): string {
  const charts = (['prAuc', 'jaccard', 'f1'] as const).map((m) =>
    barChart(
      `${METRIC_TITLES[m]} (all patients), mean ± std`,
      r.methods.map((x) => ({ name: x.name, mean: x.summary.overall[m]?.mean ?? 0, std: x.summary.overall[m]?.std ?? 0 })),
      METRIC_TITLES[m],
    ),
  );
  return `<div class="charts">${charts.join('')}</div>`;
}

function perLabelCharts(r: EvaluationReport): string {
  const charts = r.methods.map((m, i) =>
    scatterChart(
      `${m.name}: per-label PR-AUC`,
      m.perLabel
        .filter((l) => l.prAuc !== null)
        .map((l) => ({
          x: l.trainFrequency,
          y: l.prAuc as number,
          label: `${l.label}${l.name ? ` (${l.name})` : ''}: PR-AUC ${(l.prAuc as number).toFixed(3)}, train frequency ${l.trainFrequency.toFixed(4)}, ${l.testPositives} test positives`,
        })),
      { log: true, label: 'share of training samples with the label (log)' },
      { min: 0, max: 1, label: 'PR-AUC' },
      PALETTE[i % PALETTE.length],
    ),
  );
  return `<div class="charts">${charts.join('')}</div>`;
}

function curveCharts(m: MethodResult): string {
  const withCurves = m.folds.filter((f) => f.fit.curve && f.fit.curve.length > 0);
  if (withCurves.length === 0) return '';
  const loss: Series[] = withCurves.map((f) => ({ name: `fold ${f.fold}`, points: (f.fit.curve ?? []).map((p) => [p.epoch, p.trainLoss] as const) }));
  const valid: Series[] = withCurves
    .map((f) => ({
      name: `fold ${f.fold}`,
      points: (f.fit.curve ?? []).filter((p) => p.validPrAuc !== undefined).map((p) => [p.epoch, p.validPrAuc as number] as const),
    }))
    .filter((s) => s.points.length > 0);
  const best = withCurves.map((f) => (f.fit.bestEpoch === undefined ? '' : `fold ${f.fold}: ${f.fit.bestEpoch}`)).filter(Boolean);
  return (
    `<h3>${escapeHtml(m.name)}</h3>` +
    (best.length ? `<p>Best epoch (restored): ${escapeHtml(best.join(', '))}</p>` : '') +
    `<div class="charts">${lineChart(`${m.name}: training loss`, loss, 'epoch', 'train loss')}` +
    (valid.length ? lineChart(`${m.name}: validation PR-AUC`, valid, 'epoch', 'validation PR-AUC') : '') +
    '</div>' +
    `<p class="legend">${withCurves.map((f, i) => `<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>fold ${f.fold}</span>`).join('')}</p>`
  );
}

function foldTable(r: EvaluationReport): string {
  const rows: string[] = [];
  for (const m of r.methods) {
    for (const f of m.folds) {
      const cells = (['jaccard', 'f1', 'prAuc', 'ddiRate', 'med'] as const).map((k) => {
        const v = f.full.overall[k];
        return `<td>${v === null ? '–' : v.toFixed(k === 'med' ? 2 : 4)}</td>`;
      });
      rows.push(
        `<tr><td>${escapeHtml(m.name)}</td><td>${f.fold}</td><td>${f.trainSamples}</td><td>${f.validationSamples}</td><td>${f.testSamples}</td>${cells.join('')}<td>${f.fitSeconds.toFixed(1)}</td></tr>`,
      );
    }
  }
  return (
    '<table><thead><tr><th>method</th><th>fold</th><th>train</th><th>validation</th><th>test</th>' +
    METRICS.map((k) => `<th>${METRIC_TITLES[k]}</th>`).join('') +
    '<th>fit s</th></tr></thead><tbody>' +
    rows.join('') +
    '</tbody></table>'
  );
}

export function renderHtmlReport(r: EvaluationReport, title = 'leader-cds evaluation'): string {
  const d = r.dataset;
  const curves = r.methods.map(curveCharts).filter(Boolean);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<dl>
<dt>Dataset</dt><dd>mapping ${escapeHtml(d.mapping)}, label space ${escapeHtml(d.labelSpace)}, fingerprint <code>${escapeHtml(d.fingerprint)}</code></dd>
<dt>Size</dt><dd>${d.patients} patients, ${d.records} encounter records, ${d.samples} samples (${d.singleSamples} single-encounter, ${d.multiSamples} multi-encounter), ${d.labels} labels</dd>
<dt>Protocol</dt><dd>${escapeHtml(r.protocol)}</dd>
<dt>Split</dt><dd>${escapeHtml(splitText(r))}, seed ${r.seed}</dd>
<dt>Rounds</dt><dd>${r.rounds} per test part, each ${Math.round(r.roundFraction * 100)}% of the test samples without replacement</dd>
<dt>Headline spread</dt><dd>mean ± population std across ${escapeHtml(r.summaryAcross)}</dd>
<dt>DDI</dt><dd>${r.ddi ? 'from the mapping\'s interaction pairs (pooled over samples)' : 'not computed (no interaction pairs)'}</dd>
<dt>Created</dt><dd>${escapeHtml(r.createdAt)}</dd>
</dl>
<h2>Notes</h2>
<ul class="notes">${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
<h2>Metrics</h2>
${metricTables(r)}
${spreadCharts(r)}
<h2>Is the best method separated from the others?</h2>
${comparisonTable(r)}
<h2>Per-label PR-AUC against training frequency</h2>
<p>One point per label: average precision of the label's score over all test samples, against the share of training samples that carry it.</p>
${perLabelCharts(r)}
<h2>Training curves</h2>
${curves.length ? curves.join('\n') : '<p>No method reported a training curve.</p>'}
<h2>Per fold</h2>
${foldTable(r)}
</body></html>
`;
}
