// LEADER prompts: a dataset record rendered as natural language with display names, through a small
// template of named slots. Truncation to a token budget drops the oldest earlier encounters first;
// the current encounter always survives (reference-code defects 1 and 5 are not repeated).
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import type { DatasetRecord, HistoryVisit } from '../dataset/types.ts';

/**
 * The template. Each section is a string with `{slot}` placeholders; a section that renders to an
 * empty string is left out. Slots:
 * - intro:   {history_count} (earlier encounters the patient had), {shown_count} (how many are shown)
 * - profile: {profile} ("sex female, age band 60-69, ..."), and each profile field by name, e.g. {sex}, {age_band}
 * - visit:   {visit_number} (1 = oldest earlier encounter), {visit_date} (YYYY-MM-DD), {diagnoses},
 *            {procedures}, {medications}
 * - current: {diagnoses}, {procedures}, {date}
 * - cue:     no slots
 * Lists are display names joined by `listSeparator`; an empty list renders as `empty`.
 */
export const PromptTemplate = z
  .object({
    intro: z.string().default('The patient has had {history_count} earlier encounters.'),
    profile: z.string().default('Patient profile: {profile}.'),
    visit: z
      .string()
      .default('In earlier encounter {visit_number}, the patient had diagnoses: {diagnoses}; procedures: {procedures}. The patient was prescribed: {medications}.'),
    current: z.string().default('In this encounter, the patient has diagnoses: {diagnoses}; procedures: {procedures}.'),
    cue: z.string().default('Then, the patient should be prescribed:'),
    /** Put between sections. */
    joiner: z.string().default('\n'),
    listSeparator: z.string().default(', '),
    empty: z.string().default('none'),
    /** Earlier encounters shown at most (the most recent ones); the paper uses 3. */
    maxHistory: z.number().int().nonnegative().default(3),
  })
  .strict();
export type PromptTemplate = z.infer<typeof PromptTemplate>;

export const DEFAULT_TEMPLATE: PromptTemplate = PromptTemplate.parse({});

const SECTION_SLOTS: Record<'intro' | 'visit' | 'current' | 'cue', readonly string[]> = {
  intro: ['history_count', 'shown_count'],
  visit: ['visit_number', 'visit_date', 'diagnoses', 'procedures', 'medications'],
  current: ['diagnoses', 'procedures', 'date'],
  cue: [],
};

export class PromptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptError';
  }
}

function slotsOf(text: string): string[] {
  return [...text.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!);
}

/** Checks a parsed template: every slot must exist in its section. */
export function checkTemplate(t: PromptTemplate, source = 'template'): PromptTemplate {
  for (const [section, allowed] of Object.entries(SECTION_SLOTS)) {
    for (const slot of slotsOf(t[section as keyof typeof SECTION_SLOTS])) {
      if (!allowed.includes(slot)) {
        throw new PromptError(`${source}: section "${section}" uses unknown slot {${slot}} (allowed: ${allowed.map((s) => `{${s}}`).join(', ') || 'none'})`);
      }
    }
  }
  for (const slot of slotsOf(t.profile)) {
    if (!/^[a-z][a-z0-9_]*$/.test(slot)) throw new PromptError(`${source}: section "profile" uses malformed slot {${slot}}`);
  }
  return t;
}

/** Reads a template from YAML or JSON; fields left out keep their defaults. */
export function loadTemplate(file: string): PromptTemplate {
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PromptError(`${file}: cannot read template (${(err as Error).message})`);
  }
  const parsed = PromptTemplate.safeParse(raw ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new PromptError(`${file}: field "${i.path.join('.') || '(root)'}": ${i.message}`);
  }
  return checkTemplate(parsed.data, file);
}

export interface PromptOptions {
  template?: PromptTemplate;
  /** Token budget for the whole prompt, counted with `count`. */
  maxTokens?: number;
  count?: (text: string) => number;
}

export interface RenderedPrompt {
  text: string;
  /** Earlier encounters in the prompt (most recent ones). */
  shownVisits: number;
  /** Earlier encounters left out by the budget (beyond those `maxHistory` already excludes). */
  droppedForBudget: number;
  /** Items trimmed from the current encounter's lists as the last resort. */
  trimmedCurrent: number;
  tokens?: number;
}

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{([^{}]*)\}/g, (whole, slot: string) => values[slot] ?? '');
}

function humanise(key: string): string {
  return key.replace(/_/g, ' ');
}

/** Display name of a token (`icd9:4019` -> "Unspecified essential hypertension"); the bare code when unnamed. */
export function displayName(token: string, names: Readonly<Record<string, string>>): string {
  const name = names[token];
  if (name && name.trim() !== '') return name.trim();
  const colon = token.indexOf(':');
  return colon >= 0 ? token.slice(colon + 1) : token;
}

function list(tokens: readonly string[], names: Readonly<Record<string, string>>, t: PromptTemplate): string {
  // Different codes can share a display name; saying it twice adds tokens, not meaning.
  const seen = new Set<string>();
  const out: string[] = [];
  for (const tok of tokens) {
    const n = displayName(tok, names);
    if (!seen.has(n)) {
      seen.add(n);
      out.push(n);
    }
  }
  return out.length ? out.join(t.listSeparator) : t.empty;
}

function render(
  record: DatasetRecord,
  visits: readonly HistoryVisit[],
  current: { diagnoses: readonly string[]; procedures: readonly string[] },
  names: Readonly<Record<string, string>>,
  t: PromptTemplate,
): string {
  const sections: string[] = [];
  sections.push(fill(t.intro, { history_count: String(record.history.length), shown_count: String(visits.length) }));
  const profileEntries = Object.entries(record.profile).filter(([, v]) => v !== '');
  if (profileEntries.length > 0) {
    const values: Record<string, string> = Object.fromEntries(profileEntries.map(([k, v]) => [k, displayName(v, names)]));
    values.profile = profileEntries.map(([k, v]) => `${humanise(k)} ${displayName(v, names)}`).join(t.listSeparator);
    sections.push(fill(t.profile, values));
  }
  const firstShown = record.history.length - visits.length;
  visits.forEach((v, i) => {
    sections.push(
      fill(t.visit, {
        visit_number: String(firstShown + i + 1),
        visit_date: v.start.slice(0, 10),
        // Each earlier encounter with its own diagnoses (defect 1 of the reference code).
        diagnoses: list(v.diagnoses, names, t),
        procedures: list(v.procedures, names, t),
        medications: list(v.medications, names, t),
      }),
    );
  });
  sections.push(fill(t.current, { diagnoses: list(current.diagnoses, names, t), procedures: list(current.procedures, names, t), date: record.start.slice(0, 10) }));
  sections.push(t.cue);
  return sections.filter((s) => s.trim() !== '').join(t.joiner);
}

/**
 * Renders the prompt of a record. With a budget, drops the oldest shown earlier encounter until the
 * prompt fits, then trims the current encounter's procedures and diagnoses from the end (at least one
 * diagnosis stays); if it still does not fit, throws.
 */
export function renderPrompt(record: DatasetRecord, names: Readonly<Record<string, string>>, options: PromptOptions = {}): RenderedPrompt {
  const t = options.template ?? DEFAULT_TEMPLATE;
  const visits = t.maxHistory > 0 ? record.history.slice(-t.maxHistory) : [];
  const shownMax = visits.length;
  const current = { diagnoses: record.diagnoses, procedures: record.procedures };
  const { maxTokens, count } = options;
  if (maxTokens !== undefined && !count) throw new PromptError('a token budget needs a token counter');
  const first = render(record, visits, current, names, t);
  if (maxTokens === undefined || !count) return { text: first, shownVisits: visits.length, droppedForBudget: 0, trimmedCurrent: 0 };
  let tokens = count(first);
  if (tokens <= maxTokens) return { text: first, shownVisits: visits.length, droppedForBudget: 0, trimmedCurrent: 0, tokens };
  // Oldest shown earlier encounter first (at most maxHistory renders).
  while (visits.length > 0) {
    visits.shift();
    const text = render(record, visits, current, names, t);
    tokens = count(text);
    if (tokens <= maxTokens) return { text, shownVisits: visits.length, droppedForBudget: shownMax - visits.length, trimmedCurrent: 0, tokens };
  }
  // Then the current encounter's lists, procedures from the end, then diagnoses from the end (one stays):
  // keeping the first k items of [diagnoses..., procedures...] is exactly that order, and the token
  // count grows with k, so a binary search finds the most that fit in O(log n) renders.
  const items = [...record.diagnoses.map((d) => ({ kind: 'dx' as const, token: d })), ...record.procedures.map((p) => ({ kind: 'px' as const, token: p }))];
  const renderKeeping = (k: number) => {
    const kept = items.slice(0, k);
    const cur = { diagnoses: kept.filter((i) => i.kind === 'dx').map((i) => i.token), procedures: kept.filter((i) => i.kind === 'px').map((i) => i.token) };
    const text = render(record, visits, cur, names, t);
    return { text, tokens: count(text) };
  };
  const minKeep = Math.min(1, record.diagnoses.length);
  let best = renderKeeping(minKeep);
  if (best.tokens > maxTokens) {
    throw new PromptError(
      `encounter ${record.encounterId}: the prompt needs ${best.tokens} tokens even without history and with one diagnosis; the budget is ${maxTokens}`,
    );
  }
  let lo = minKeep;
  let hi = items.length - 1; // items.length itself did not fit (the history-free render above)
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const r = renderKeeping(mid);
    if (r.tokens <= maxTokens) {
      lo = mid;
      best = r;
    } else hi = mid - 1;
  }
  return { text: best.text, shownVisits: 0, droppedForBudget: shownMax, trimmedCurrent: items.length - lo, tokens: best.tokens };
}
