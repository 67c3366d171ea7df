// From model scores to suggestion candidates: above threshold, orderable, not already ordered, not interacting.
import type { Candidate, Withheld } from '../cards/suggestion-card.ts';
import { scoreRecord, topContributions, withOcclusion, type ModelInput, type ScoredRecord } from '../cards/explain.ts';
import { interactingOrders } from './interactions.ts';
import type { CodeSubstitution } from './ports.ts';
import type { HookDeps, HookOptions, Prepared } from './prepare.ts';

/**
 * Suggestions need a current clinical picture: a diagnosis or procedure of "now" (the current encounter or an active
 * problem). History alone (finished encounters, resolved conditions) is not a reason to order anything today.
 */
export function hasClinicalInput(p: Prepared): boolean {
  return p.now.currentDiagnoses + p.now.currentProcedures > 0;
}

/**
 * Candidates above `minProbability`, explained. The record is scored alone first: most calls show no suggestion
 * and need no explanation, whose occlusion batch costs tens of records' worth of model time.
 */
export async function suggest(
  p: Prepared,
  deps: HookDeps,
  options: HookOptions,
  minProbability: number,
  skip: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<Selection> {
  const scored = await scoreRecord(deps.model, p.record, deps.scoreCache, signal);
  const first = select(p, scored, deps, options, minProbability, skip);
  if (first.candidates.length === 0) return first;
  return select(p, await withOcclusion(deps.model, scored, options.occlusionBound, deps.scoreCache, signal), deps, options, minProbability, skip);
}

/**
 * Each unseen code once (a code repeated across encounters is one line), named from the patient's own data first
 * (the site's display), else from the code map.
 */
export function namedSubstitutions(names: ReadonlyMap<string, string>, substitutions: readonly CodeSubstitution[]): CodeSubstitution[] {
  const out = new Map<string, CodeSubstitution>();
  for (const s of substitutions) {
    const key = `${s.kind}\u0000${s.from}`;
    const seen = out.get(key);
    // The current encounter's reading wins over an earlier one's (the card is about this encounter).
    if (seen && (seen.encounter === 'current' || s.encounter !== 'current')) continue;
    const fromName = names.get(s.from) ?? s.fromName;
    const toName = s.toName ?? names.get(s.to);
    out.set(key, { kind: s.kind, encounter: s.encounter, from: s.from, ...(fromName ? { fromName } : {}), to: s.to, ...(toName ? { toName } : {}) });
  }
  return [...out.values()].sort((a, b) => Number(b.encounter === 'current') - Number(a.encounter === 'current'));
}

function labelName(deps: HookDeps, label: string): string {
  return deps.model.labelInfo(label)?.name ?? deps.mapping.labelEntry(label)?.name ?? label;
}

export function describeInput(input: ModelInput, p: Prepared, deps: HookDeps): string {
  const name = (token: string) => p.names.get(token) ?? token;
  switch (input.kind) {
    case 'diagnosis':
      return `${name(input.key)} (diagnosis)`;
    case 'procedure':
      return `${name(input.key)} (procedure)`;
    case 'history-diagnosis':
      return `${name(input.key)} (earlier diagnosis)`;
    case 'history-procedure':
      return `${name(input.key)} (earlier procedure)`;
    case 'history-medication':
      return `${labelName(deps, input.key)} given before`;
    case 'profile':
      return `${input.key.replace(/_/g, ' ')} ${input.value ?? ''}`.trim();
  }
}

/** Substitutions shown on a card, counted by kind only (never the codes: they are patient data). */
export function countSubstitutions(deps: HookDeps, hook: string, substitutions: readonly CodeSubstitution[]): void {
  for (const kind of ['diagnosis', 'procedure'] as const) {
    const n = substitutions.filter((s) => s.kind === kind).length;
    if (n > 0) deps.metrics?.substitutions?.(hook, kind, n);
  }
}

export interface Selection {
  candidates: Candidate[];
  withheld: Withheld[];
  /** Unseen codes of the record the model read as known ones, named. */
  substitutions: CodeSubstitution[];
}

export function select(p: Prepared, scored: ScoredRecord, deps: HookDeps, options: HookOptions, minProbability: number, skip: ReadonlySet<string>): Selection {
  const current = [...p.drafts.medications, ...p.active];
  const ordered = new Set(current.flatMap((o) => o.labels));
  const candidates: Candidate[] = [];
  const withheld: Withheld[] = [];
  const order = deps.model.labels.map((label, index) => ({ label, index, probability: scored.base[index] ?? 0 }));
  order.sort((a, b) => b.probability - a.probability);
  for (const { label, index, probability } of order) {
    if (!(probability >= minProbability)) break;
    if (ordered.has(label) || skip.has(label)) continue;
    const info = deps.model.labelInfo(label) ?? deps.mapping.labelEntry(label);
    const orderable = info?.orderable;
    if (!orderable) continue;
    const name = info?.name ?? label;
    const clashes = interactingOrders(label, current, deps.mapping);
    if (clashes.length > 0) {
      withheld.push({ label, name, probability, why: `interacts with ${clashes.map((c) => c.display).join(', ')} (current orders)` });
      continue;
    }
    if (candidates.length >= options.maxSuggestions) continue;
    const contributions = topContributions(scored, index, options.topInputs).map((c) => ({ ...c, text: describeInput(c.input, p, deps) }));
    const reasons = topContributions(scored, index, options.topReasons, ['diagnosis'])
      .map((c) => p.conditions.get(c.input.key))
      .filter((c): c is { reference: string; display?: string } => c !== undefined);
    const unique = [...new Map(reasons.map((r) => [r.reference, r])).values()];
    candidates.push({ label, name, orderable, probability, contributions, reasons: unique });
  }
  return { candidates, withheld, substitutions: namedSubstitutions(p.names, scored.substitutions) };
}
