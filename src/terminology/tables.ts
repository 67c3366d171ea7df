// The RxNorm terminology tables a mapping's `rxnorm` source names: ingredient -> ATC, RxCUI -> ingredients, and the
// salt/ester words that turn a precise ingredient (PIN, "Metoprolol Tartrate") into its base ingredient ("metoprolol").
// A malformed row stops the load with the file, row and field named: a half-read clinical table is worse than none.
import { readCsvColumns } from '../mapping/csv-table.ts';
import { MappingError } from '../mapping/errors.ts';
import { normaliseName } from './names.ts';

export interface TableRef {
  mappingFile: string;
  field: string;
  path: string;
}

/** WHO ATC level 5 (e.g. C09AA03), or level 4 (e.g. B03AC) for substances the index codes only at level 4. */
export const ATC5 = /^[A-Z]\d{2}[A-Z]{2}(?:\d{2})?$/

function rowError(ref: TableRef, line: number, column: string, detail: string): MappingError {
  return new MappingError(ref.mappingFile, ref.field, `${ref.path}: line ${line}: field '${column}': ${detail}`);
}

/** ingredient,atc (several rows per ingredient allowed) -> normalised ingredient name -> ATC level-5 codes. */
export async function loadIngredientAtc(ref: TableRef): Promise<Map<string, string[]>> {
  const table = new Map<string, string[]>();
  await readCsvColumns(ref, ['ingredient', 'atc'], ([ingredient, atc], row) => {
    const name = normaliseName(ingredient);
    if (!name) throw rowError(ref, row, 'ingredient', 'empty');
    const code = (atc ?? '').trim().toUpperCase();
    if (!ATC5.test(code)) throw rowError(ref, row, 'atc', `'${atc ?? ''}' is not a WHO ATC level-5 (or level-4) code (e.g. C09AA03)`);
    const codes = table.get(name);
    if (!codes) table.set(name, [code]);
    else if (!codes.includes(code)) codes.push(code);
  });
  if (table.size === 0) throw new MappingError(ref.mappingFile, ref.field, `${ref.path}: no rows`);
  return table;
}

export interface CodeEntry {
  tty: string;
  /** Normalised ingredient names. */
  ingredients: string[];
}

/** Term types a code row may carry (RxNorm TTYs of drugs and ingredients). */
export const TERM_TYPES: ReadonlySet<string> = new Set(['IN', 'PIN', 'MIN', 'SCD', 'SBD', 'SCDC', 'SBDC', 'SCDF', 'SBDF', 'SCDG', 'SBDG', 'GPCK', 'BPCK', 'BN']);

/** rxcui,tty,ingredients (ingredients separated by ';') -> RxCUI -> entry. */
export async function loadRxNormCodes(ref: TableRef): Promise<Map<string, CodeEntry>> {
  const table = new Map<string, CodeEntry>();
  await readCsvColumns(ref, ['rxcui', 'tty', 'ingredients'], ([rxcui, tty, ingredients], row) => {
    const code = (rxcui ?? '').trim();
    if (!/^\d{1,10}$/.test(code)) throw rowError(ref, row, 'rxcui', `'${rxcui ?? ''}' is not an RxCUI (digits only)`);
    const type = (tty ?? '').trim().toUpperCase();
    if (!TERM_TYPES.has(type)) throw rowError(ref, row, 'tty', `'${tty ?? ''}' is not one of ${[...TERM_TYPES].join(', ')}`);
    const names = (ingredients ?? '').split(';').map(normaliseName).filter(Boolean);
    if (names.length === 0) throw rowError(ref, row, 'ingredients', 'empty (ingredient names separated by ;)');
    const previous = table.get(code);
    if (previous && previous.ingredients.join(';') !== names.join(';')) {
      throw rowError(ref, row, 'rxcui', `${code} is listed twice with different ingredients`);
    }
    table.set(code, { tty: type, ingredients: names });
  });
  return table;
}

/** salt -> normalised salt/ester/qualifier words, longest first (so "hydrochloride monohydrate" goes before "monohydrate"). */
export async function loadSalts(ref: TableRef): Promise<string[]> {
  const salts = new Set<string>();
  await readCsvColumns(ref, ['salt'], ([salt], row) => {
    const name = normaliseName(salt);
    if (!name) throw rowError(ref, row, 'salt', 'empty');
    salts.add(name);
  });
  return [...salts].sort((a, b) => b.length - a.length);
}

export interface RouteRule {
  /** ATC prefix (anatomical group, or a deeper level) whose codes are for one route only. */
  group: string;
  /** Lower-case dose-form words of that route. */
  words: string[];
}

/** atc_group,dose_form_words (space-separated) -> rules, longest group first (the most specific rule decides). */
export async function loadRouteRules(ref: TableRef): Promise<RouteRule[]> {
  const rules: RouteRule[] = [];
  await readCsvColumns(ref, ['atc_group', 'dose_form_words'], ([group, words], row) => {
    const g = (group ?? '').trim().toUpperCase();
    if (!/^[A-Z](?:\d{2}(?:[A-Z](?:[A-Z](?:\d{2})?)?)?)?$/.test(g)) throw rowError(ref, row, 'atc_group', `'${group ?? ''}' is not an ATC group prefix (e.g. S01, R03A)`);
    const list = (words ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    if (list.length === 0) throw rowError(ref, row, 'dose_form_words', 'empty');
    rules.push({ group: g, words: list });
  });
  return rules.sort((a, b) => b.group.length - a.group.length);
}
