// Parses RxNorm normalised drug names into ingredient names by RxNorm's naming convention:
//   IN/PIN "Metoprolol Tartrate", MIN "Hydrochlorothiazide / Lisinopril",
//   SCDC "Lisinopril 10 MG", SBDC "Lisinopril 10 MG [Zestril]", SCDF "Lisinopril Oral Tablet",
//   SCD "24 HR Metoprolol Succinate 25 MG Extended Release Oral Tablet", SBD "<SCD> [Brand]",
//   GPCK/BPCK "{7 (<SCD>) / 21 (<SCD>) } Pack [Brand]".
// Ingredients of a combination are joined by " / "; each component is "<ingredient> <number> <UNIT>...".
// Nothing here throws: a name that does not follow the convention is an `unparsed` outcome with the reason.
import { DOSE_FORM_WORDS, INACTIVE_PACK_INGREDIENTS, STRENGTH_UNITS } from './rxnorm-convention.ts';

export type RxNormNameParse =
  | {
      kind: 'parsed';
      /** Ingredient names as written in the name (trimmed, in order, without duplicates), e.g. ["Metoprolol Succinate"]. */
      ingredients: string[];
      /** Brand in the trailing "[...]", if any. */
      brand?: string;
      /** True for a pack ("{...} Pack"). */
      pack: boolean;
      /** True when at least one component carried a strength (a clinical/branded drug or component, not an ingredient). */
      withStrength: boolean;
      /** Dose form words after the last strength (or after the ingredient of an SCDF), e.g. "Extended Release Oral Tablet"; a pack's member forms joined by " / ". */
      doseForm?: string;
    }
  | { kind: 'unparsed'; reason: string };

/** Longest name accepted: real RxNorm names are far shorter; this bounds the work on hostile input. */
export const MAX_NAME_LENGTH = 2000;

const NUMBER = /^(?:\d+(?:\.\d+)?|\.\d+)$/;

function isUnit(token: string): boolean {
  if (STRENGTH_UNITS.has(token)) return true;
  // Homeopathic potencies are written as UCUM annotations: "30 [hp_C]", "6 [hp_X]".
  if (/^\[hp_[A-Za-z]+\]$/.test(token)) return true;
  // Composite units: MG/ML, UNT/ACTUAT, MG/HR, MG/Day, MEQ/ML, MG/MG ... the numerator decides.
  const slash = token.indexOf('/');
  return slash > 0 && STRENGTH_UNITS.has(token.slice(0, slash)) && /^[A-Za-z0-9%/-]+$/.test(token);
}

/** Index of the first word that starts a strength ("<number> <UNIT>"), or -1. */
function strengthStart(words: readonly string[]): number {
  for (let i = 0; i + 1 < words.length; i++) {
    if (NUMBER.test(words[i]!) && isUnit(words[i + 1]!)) return i;
  }
  return -1;
}

/** FDA application numbers RxNorm puts first to tell otherwise identical drugs apart ("NDA020800 0.3 ML ..."). */
const APPLICATION_NUMBER = /^(?:NDA|ANDA|BLA)\d+$/;

/** Qualitative distinctions RxNorm writes before the ingredient ("Abuse-Deterrent 12 HR oxycodone ..."). */
const LEADING_QUALIFIERS: ReadonlySet<string> = new Set(['abuse-deterrent']);

/**
 * Removes leading quantity factors, qualitative distinctions and application numbers:
 * "1 ML ...", "0.4 ML ...", "24 HR ...", "120 ACTUAT ...", "NDA020800 ...".
 */
function stripLeadingQuantities(words: string[]): string[] {
  let i = 0;
  for (;;) {
    if (i < words.length && (APPLICATION_NUMBER.test(words[i]!) || LEADING_QUALIFIERS.has(words[i]!.toLowerCase()))) i += 1;
    else if (i + 1 < words.length && NUMBER.test(words[i]!) && isUnit(words[i + 1]!)) i += 2;
    else break;
  }
  return words.slice(i);
}

/** Splits on a separator at bracket depth 0 (pack members contain " / " inside their parentheses). */
function splitTopLevel(text: string, separator: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
      if (depth < 0) return undefined;
    } else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i));
      start = i + separator.length;
      i += separator.length - 1;
    }
  }
  if (depth !== 0) return undefined;
  parts.push(text.slice(start));
  return parts;
}

function balanced(text: string): boolean {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const ch of text) {
    if (ch === '(' || ch === '[' || ch === '{') stack.push(ch);
    else if (ch in pairs) {
      if (stack.pop() !== pairs[ch]) return false;
    }
  }
  return stack.length === 0;
}

/** Cuts a trailing "[Brand]" off; returns the rest and the brand. */
function splitBrand(text: string): { rest: string; brand?: string } {
  const trimmed = text.trim();
  if (!trimmed.endsWith(']')) return { rest: trimmed };
  let depth = 0;
  for (let i = trimmed.length - 1; i >= 0; i--) {
    const ch = trimmed[i];
    if (ch === ']') depth++;
    else if (ch === '[') {
      depth--;
      if (depth === 0) return { rest: trimmed.slice(0, i).trim(), brand: trimmed.slice(i + 1, -1).trim() };
    }
  }
  return { rest: trimmed };
}

type ComponentResult = { ingredient: string; withStrength: boolean; doseForm?: string } | { error: string };

/** One " / "-separated component: "<ingredient> <strength>[ <dose form>]" or "<ingredient>[ <dose form>]". */
function parseComponent(component: string, last: boolean): ComponentResult {
  const trimmed = component.trim();
  // "A / / B" splits into a component that starts with the separator's slash: an empty ingredient slot.
  if (!trimmed || trimmed.startsWith('/') || trimmed.endsWith('/')) return { error: `empty component in '${trimmed}'` };
  const words = stripLeadingQuantities(trimmed.split(/\s+/).filter(Boolean));
  if (words.length === 0) return { error: `empty component in '${trimmed}'` };
  const at = strengthStart(words);
  if (at === 0) return { error: `component '${component.trim()}' has a strength but no ingredient before it` };
  if (at > 0) {
    const form = words.slice(at + 2).join(' ');
    return { ingredient: words.slice(0, at).join(' '), withStrength: true, ...(last && form ? { doseForm: form } : {}) };
  }
  // No strength: an ingredient name, or (last component only) an ingredient followed by a dose form (SCDF/SBDF).
  let end = words.length;
  if (last) {
    while (end > 1 && DOSE_FORM_WORDS.has(words[end - 1]!.toLowerCase())) end--;
  }
  if (end === 1 && DOSE_FORM_WORDS.has(words[0]!.toLowerCase()) && (words.length > 1 || last)) {
    return { error: `component '${component.trim()}' is a dose form without an ingredient` };
  }
  if (/^\d/.test(words[0]!)) return { error: `component '${component.trim()}' starts with a number that is not a strength` };
  const form = words.slice(end).join(' ');
  return { ingredient: words.slice(0, end).join(' '), withStrength: false, ...(form ? { doseForm: form } : {}) };
}

function parseDrug(text: string): RxNormNameParse {
  const { rest, brand } = splitBrand(text);
  if (!rest) return { kind: 'unparsed', reason: 'nothing before the brand' };
  if (/[{}]/.test(rest)) return { kind: 'unparsed', reason: 'braces outside a pack' };
  const components = splitTopLevel(rest, ' / ');
  if (!components) return { kind: 'unparsed', reason: 'unbalanced brackets' };
  const ingredients: string[] = [];
  let withStrength = false;
  let doseForm: string | undefined;
  for (const [i, component] of components.entries()) {
    const result = parseComponent(component, i === components.length - 1);
    if ('error' in result) return { kind: 'unparsed', reason: result.error };
    withStrength ||= result.withStrength;
    if (result.doseForm) doseForm = result.doseForm;
    if (!ingredients.some((x) => x.toLowerCase() === result.ingredient.toLowerCase())) ingredients.push(result.ingredient);
  }
  return { kind: 'parsed', ingredients, ...(brand ? { brand } : {}), pack: false, withStrength, ...(doseForm ? { doseForm } : {}) };
}

function parsePack(text: string): RxNormNameParse {
  const close = text.lastIndexOf('}');
  const inner = text.slice(1, close);
  const { rest: tail, brand } = splitBrand(text.slice(close + 1));
  if (!/^(?:pack|kit)$/i.test(tail)) return { kind: 'unparsed', reason: `a pack ends in 'Pack' or 'Kit' (got '${tail}')` };
  const members = splitTopLevel(inner.trim(), ' / ');
  if (!members || members.length === 0 || members.every((m) => !m.trim())) return { kind: 'unparsed', reason: 'a pack with no members' };
  const ingredients: string[] = [];
  const forms: string[] = [];
  for (const member of members) {
    // "<count> (<drug name>)"; the count may be missing in some site extracts.
    const m = /^\s*(?:\d+\s*)?\((.*)\)\s*$/s.exec(member);
    if (!m) return { kind: 'unparsed', reason: `pack member '${member.trim()}' is not '<count> (<drug>)'` };
    const drug = parseDrug(m[1]!);
    if (drug.kind === 'unparsed') return { kind: 'unparsed', reason: `pack member '${m[1]!.trim()}': ${drug.reason}` };
    if (drug.doseForm && !forms.includes(drug.doseForm)) forms.push(drug.doseForm);
    for (const ingredient of drug.ingredients) {
      if (INACTIVE_PACK_INGREDIENTS.has(ingredient.toLowerCase())) continue;
      if (!ingredients.some((x) => x.toLowerCase() === ingredient.toLowerCase())) ingredients.push(ingredient);
    }
  }
  if (ingredients.length === 0) return { kind: 'unparsed', reason: 'a pack whose members have no active ingredient' };
  // The members' dose forms, together: a route-specific ATC code is chosen only if some member has that route.
  return { kind: 'parsed', ingredients, ...(brand ? { brand } : {}), pack: true, withStrength: true, ...(forms.length > 0 ? { doseForm: forms.join(' / ') } : {}) };
}

/** Parses an RxNorm normalised name (any term type an order carries). Never throws. */
export function parseRxNormName(name: unknown): RxNormNameParse {
  if (typeof name !== 'string') return { kind: 'unparsed', reason: 'not a string' };
  const text = name.replace(/\s+/g, ' ').trim();
  if (!text) return { kind: 'unparsed', reason: 'empty name' };
  if (text.length > MAX_NAME_LENGTH) return { kind: 'unparsed', reason: `longer than ${MAX_NAME_LENGTH} characters` };
  if (!balanced(text)) return { kind: 'unparsed', reason: 'unbalanced brackets' };
  if (!/[A-Za-z]/.test(text)) return { kind: 'unparsed', reason: 'no letters' };
  return text.startsWith('{') ? parsePack(text) : parseDrug(text);
}
