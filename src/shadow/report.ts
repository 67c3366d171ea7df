// The shadow report (issue 13): what a shadow-mode service would have suggested, against what was actually ordered
// afterwards, beside a label-frequency recommender shown on the same calls (the same alert rate).
import type { ShadowCall } from './log.ts';

/** A set of medication labels ordered for a patient at a time (later order-sign drafts, or MedicationRequests). */
export interface LaterOrder {
  patientId: string;
  at: string;
  labels: readonly string[];
  source: string;
  /** The hook call that recorded it, when it came from one (never counts for that same call). */
  hookInstance?: string;
}

export interface ReportOptions {
  /** Orders up to this long after a call count as "ordered afterwards". */
  windowHours: number;
  /** Label -> display name. */
  names?: ReadonlyMap<string, string>;
}

export interface Rates {
  /** Suggestions shown (would have been) on resolved calls. */
  shown: number;
  /** Of them, ordered afterwards. */
  hits: number;
  /** hits / shown; null with nothing shown. */
  precision: number | null;
}

export interface LabelRow extends Rates {
  label: string;
  name?: string;
  /** Calls (resolved or not) whose card would have offered the label. */
  suggested: number;
  /** suggested / calls. */
  alertRate: number;
}

export interface ShadowReport {
  windowHours: number;
  calls: number;
  /** Calls with at least one order for the patient within the window (only these are scored). */
  resolved: number;
  /** Calls with no later order at all: reported apart, never counted as misses. */
  unresolved: number;
  callsWithCard: number;
  /** Share of calls that would have shown a card. */
  alertRate: number;
  /** Mean suggestions on a card that would have been shown. */
  suggestionsPerCard: number;
  model: Rates;
  /** The most frequent labels (ordered for other patients), as many as the model offered, on the same calls. */
  labelFrequency: Rates;
  perLabel: LabelRow[];
  sources: Record<string, number>;
}

const rate = (hits: number, shown: number): Rates => ({ shown, hits, precision: shown === 0 ? null : hits / shown });

export function shadowReport(calls: readonly ShadowCall[], orders: readonly LaterOrder[], options: ReportOptions): ShadowReport {
  const windowMs = options.windowHours * 3_600_000;
  const byPatient = new Map<string, LaterOrder[]>();
  const sources: Record<string, number> = {};
  for (const o of orders) {
    if (Number.isNaN(Date.parse(o.at))) continue;
    let list = byPatient.get(o.patientId);
    if (!list) byPatient.set(o.patientId, (list = []));
    list.push(o);
    sources[o.source] = (sources[o.source] ?? 0) + 1;
  }

  /** Labels ordered for the call's patient after it, within the window; undefined when nothing was ordered. */
  const orderedAfter = (call: ShadowCall): Set<string> | undefined => {
    const at = Date.parse(call.at);
    let found: Set<string> | undefined;
    for (const o of byPatient.get(call.patientId) ?? []) {
      if (o.hookInstance !== undefined && o.hookInstance === call.hookInstance) continue;
      const t = Date.parse(o.at);
      if (t < at || t > at + windowMs) continue;
      found ??= new Set();
      for (const l of o.labels) found.add(l);
    }
    return found;
  };

  const resolvedCalls: Array<{ call: ShadowCall; ordered: Set<string> }> = [];
  let unresolved = 0;
  for (const call of calls) {
    const ordered = orderedAfter(call);
    if (ordered) resolvedCalls.push({ call, ordered });
    else unresolved++;
  }

  // Label frequency among what was ordered after resolved calls, per patient, so each call's baseline leaves its
  // own patient out (no peeking at the answer).
  const total = new Map<string, number>();
  const perPatient = new Map<string, Map<string, number>>();
  for (const { call, ordered } of resolvedCalls) {
    let own = perPatient.get(call.patientId);
    if (!own) perPatient.set(call.patientId, (own = new Map()));
    for (const l of ordered) {
      total.set(l, (total.get(l) ?? 0) + 1);
      own.set(l, (own.get(l) ?? 0) + 1);
    }
  }
  const frequent = (patientId: string, exclude: ReadonlySet<string>, k: number): string[] => {
    const own = perPatient.get(patientId);
    return [...total]
      .map(([l, n]) => [l, n - (own?.get(l) ?? 0)] as const)
      .filter(([l, n]) => n > 0 && !exclude.has(l))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, k)
      .map(([l]) => l);
  };

  const labels = new Map<string, { suggested: number; shown: number; hits: number }>();
  const row = (l: string) => {
    let r = labels.get(l);
    if (!r) labels.set(l, (r = { suggested: 0, shown: 0, hits: 0 }));
    return r;
  };
  let callsWithCard = 0;
  let cardSuggestions = 0;
  for (const call of calls) {
    if (call.suggestions.length === 0) continue;
    callsWithCard++;
    cardSuggestions += call.suggestions.length;
    for (const s of call.suggestions) row(s.label).suggested++;
  }
  let shown = 0;
  let hits = 0;
  let baseShown = 0;
  let baseHits = 0;
  for (const { call, ordered } of resolvedCalls) {
    if (call.suggestions.length === 0) continue;
    for (const s of call.suggestions) {
      const r = row(s.label);
      r.shown++;
      shown++;
      if (ordered.has(s.label)) {
        r.hits++;
        hits++;
      }
    }
    for (const l of frequent(call.patientId, new Set(call.current), call.suggestions.length)) {
      baseShown++;
      if (ordered.has(l)) baseHits++;
    }
  }
  const perLabel: LabelRow[] = [...labels]
    .map(([label, r]) => {
      const name = options.names?.get(label);
      return { label, ...(name ? { name } : {}), suggested: r.suggested, alertRate: calls.length === 0 ? 0 : r.suggested / calls.length, ...rate(r.hits, r.shown) };
    })
    .sort((a, b) => b.suggested - a.suggested || (a.label < b.label ? -1 : 1));
  return {
    windowHours: options.windowHours,
    calls: calls.length,
    resolved: resolvedCalls.length,
    unresolved,
    callsWithCard,
    alertRate: calls.length === 0 ? 0 : callsWithCard / calls.length,
    suggestionsPerCard: callsWithCard === 0 ? 0 : cardSuggestions / callsWithCard,
    model: rate(hits, shown),
    labelFrequency: rate(baseHits, baseShown),
    perLabel,
    sources,
  };
}
