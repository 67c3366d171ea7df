// The metric table of an evaluation report as text: aligned columns for the terminal, Markdown for notes.
import { GROUPS, METRICS, type EvaluationReport, type Group, type MetricName, type MetricStats, type Stat } from './harness.ts';

export const METRIC_TITLES: Record<MetricName, string> = { jaccard: 'Jaccard', f1: 'F1', prAuc: 'PR-AUC', ddiRate: 'DDI rate', med: '#Med' };
export const GROUP_TITLES: Record<Group, string> = {
  overall: 'All patients',
  single: 'Single-encounter (no earlier encounter)',
  multi: 'Multi-encounter (at least one earlier encounter)',
};

export function formatStat(s: Stat | null, digits = 4): string {
  if (!s) return '–';
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}

export interface TableRow {
  method: string;
  cells: string[];
}

/** Rows of one group's table: each method, then the ground truth (DDI rate and #Med only). */
export function tableRows(report: EvaluationReport, group: Group): { header: string[]; rows: TableRow[] } {
  const header = ['method', ...METRICS.map((m) => METRIC_TITLES[m]), 'fit s', 'predict ms/sample', 'threshold'];
  const row = (name: string, stats: MetricStats, extra: string[]): TableRow => ({
    method: name,
    cells: [...METRICS.map((m) => formatStat(stats[m], m === 'med' ? 2 : 4)), ...extra],
  });
  const rows = report.methods.map((m) =>
    row(m.name, m.summary[group], [m.seconds.fit.toFixed(1), m.seconds.predictPerSampleMs.toFixed(3), String(m.threshold)]),
  );
  rows.push(row('(ground truth)', report.groundTruth[group], ['', '', '']));
  return { header, rows };
}

function samplesIn(report: EvaluationReport, group: Group): string {
  return `${report.testSamples[group]} test samples`;
}

export function metricTableText(report: EvaluationReport): string {
  const out: string[] = [];
  for (const g of GROUPS) {
    const { header, rows } = tableRows(report, g);
    const lines = [header, ...rows.map((r) => [r.method, ...r.cells])];
    const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
    out.push(`${GROUP_TITLES[g]}: ${samplesIn(report, g)} (mean ± std across ${report.summaryAcross})`);
    lines.forEach((l, k) => {
      out.push(l.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  '));
      if (k === 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
    });
    out.push('');
  }
  return out.join('\n');
}

export function metricTableMarkdown(report: EvaluationReport): string {
  const out: string[] = [];
  for (const g of GROUPS) {
    const { header, rows } = tableRows(report, g);
    out.push(`**${GROUP_TITLES[g]}** (${samplesIn(report, g)}; mean ± std across ${report.summaryAcross})`, '');
    out.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const r of rows) out.push(`| ${[r.method, ...r.cells].join(' | ')} |`);
    out.push('');
  }
  return out.join('\n');
}
