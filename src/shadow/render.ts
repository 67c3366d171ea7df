// The shadow report as Markdown and as a self-contained HTML page.
import type { LabelRow, Rates, ShadowReport } from './report.ts';

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function summaryRows(r: ShadowReport): Array<[string, string]> {
  const rates = (x: Rates) => `${pct(x.precision)} (${x.hits} of ${x.shown})`;
  return [
    ['calls recorded', String(r.calls)],
    ['resolved (orders seen within the window)', String(r.resolved)],
    ['unresolved (no later order: not scored, not misses)', String(r.unresolved)],
    ['alert rate (calls that would have shown a card)', `${pct(r.alertRate)} (${r.callsWithCard} of ${r.calls})`],
    ['suggestions per card', r.suggestionsPerCard.toFixed(2)],
    ['precision of the model’s suggestions', rates(r.model)],
    ['precision of label frequency on the same calls', rates(r.labelFrequency)],
  ];
}

function labelLabel(l: LabelRow): string {
  return l.name ? `${l.label} ${l.name}` : l.label;
}

export function renderMarkdown(r: ShadowReport, title: string): string {
  const out = [`# ${title}`, '', `Orders counted as "ordered afterwards": within ${r.windowHours} h of the call. Sources: ${Object.entries(r.sources).map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}.`, ''];
  out.push('| | |', '|---|---:|', ...summaryRows(r).map(([k, v]) => `| ${mdCell(k)} | ${v} |`), '');
  out.push(
    'The label-frequency recommender offers, on each call the model would have alerted on, as many classes as the model did: the classes most often ordered for the other patients, less what was already drafted or active. It shows cards at the same alert rate on the same calls.',
    '',
  );
  out.push('## Per label', '', '| label | calls suggesting | alert rate | shown (resolved) | ordered afterwards | precision |', '|---|---:|---:|---:|---:|---:|');
  for (const l of r.perLabel) out.push(`| ${mdCell(labelLabel(l))} | ${l.suggested} | ${pct(l.alertRate)} | ${l.shown} | ${l.hits} | ${pct(l.precision)} |`);
  if (r.perLabel.length === 0) out.push('| (no suggestion recorded) | | | | | |');
  return `${out.join('\n')}\n`;
}

export function renderHtml(r: ShadowReport, title: string): string {
  const rows = summaryRows(r).map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n');
  const labels = r.perLabel
    .map((l) => `<tr><td>${esc(labelLabel(l))}</td><td>${l.suggested}</td><td>${pct(l.alertRate)}</td><td>${l.shown}</td><td>${l.hits}</td><td>${pct(l.precision)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}th[scope=row],td:first-child{text-align:left}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>Orders counted as “ordered afterwards”: within ${r.windowHours} h of the call. Sources: ${esc(Object.entries(r.sources).map(([s, n]) => `${s} ${n}`).join(', ') || 'none')}.</p>
<table>${rows}</table>
<p>The label-frequency recommender offers, on each call the model would have alerted on, as many classes as the model did: the classes most often ordered for the other patients, less what was already drafted or active (same alert rate, same calls).</p>
<h2>Per label</h2>
<table><thead><tr><th>label</th><th>calls suggesting</th><th>alert rate</th><th>shown (resolved)</th><th>ordered afterwards</th><th>precision</th></tr></thead>
<tbody>${labels || '<tr><td colspan="6">(no suggestion recorded)</td></tr>'}</tbody></table>
</body></html>
`;
}
