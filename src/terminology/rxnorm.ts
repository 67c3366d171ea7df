// RxNorm codings -> ingredients -> WHO ATC level-5 codes, from a site's tables: the code table first (codes that
// arrive without a display), else the coding's display parsed by RxNorm's naming convention. Results are cached
// per code (bounded: request input must not grow memory without limit).
import type { Coding } from 'fhir/r4';
import { normaliseName } from './names.ts';
import { parseRxNormName, type RxNormNameParse } from './rxnorm-names.ts';
import type { CodeEntry, RouteRule } from './tables.ts';

export interface IngredientResolution {
  /** Normalised base ingredient names (PIN reduced to IN through the salt table when the base is known). */
  ingredients: string[];
  /** Where they came from. */
  via: 'code-table' | 'name' | 'none';
  /** Dose form words of the drug name, when it has one (selects route-specific ATC codes). */
  doseForm?: string;
  /** Why nothing was found (unparsed name, no display, ...). */
  reason?: string;
}

export interface RxNormTables {
  ingredientAtc: ReadonlyMap<string, readonly string[]>;
  codes: ReadonlyMap<string, CodeEntry>;
  salts: readonly string[];
  /** ATC groups tied to one route (empty: every ATC code of an ingredient counts, whatever the dose form). */
  routes?: readonly RouteRule[];
}

/** Entries kept before the cache starts over, and the longest key cached: hostile input must not grow memory. */
const CACHE_LIMIT = 20_000;
const CACHE_KEY_LIMIT = 512;

function unique(values: readonly string[]): string[] {
  return [...new Set(values.filter(Boolean))];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export class RxNormResolver {
  private readonly cache = new Map<string, IngredientResolution>();

  constructor(private readonly tables: RxNormTables) {}

  /** ATC level-5 codes of a (normalised or not) ingredient name; [] when the table has none. */
  atcOf(ingredient: string): readonly string[] {
    return this.tables.ingredientAtc.get(this.baseIngredient(normaliseName(ingredient))) ?? [];
  }

  /**
   * ATC codes of an ingredient for a drug of this dose form: codes whose group is tied to the form's route when
   * there are any, else the codes of groups not tied to another route, else all of them.
   */
  atcFor(ingredient: string, doseForm?: string): readonly string[] {
    const codes = this.atcOf(ingredient);
    const rules = this.tables.routes ?? [];
    if (!doseForm || codes.length < 2 || rules.length === 0) return codes;
    const words = new Set(doseForm.toLowerCase().split(/[^a-z]+/).filter(Boolean));
    const ruleOf = (code: string) => rules.find((r) => code.startsWith(r.group));
    const matches = (rule: RouteRule) => rule.words.some((w) => words.has(w));
    const routeCodes = codes.filter((c) => {
      const rule = ruleOf(c);
      return rule !== undefined && matches(rule);
    });
    if (routeCodes.length > 0) return routeCodes;
    const free = codes.filter((c) => ruleOf(c) === undefined);
    return free.length > 0 ? free : codes;
  }

  knows(ingredient: string): boolean {
    return this.tables.ingredientAtc.has(normaliseName(ingredient));
  }

  /**
   * The base ingredient (IN) of a normalised name: the name with trailing salt/ester words removed when that base
   * is in the ingredient table ("metoprolol tartrate" -> "metoprolol", "fluticasone propionate" -> "fluticasone"),
   * else the name itself. "sodium chloride" stays, because "sodium" is not an ingredient of the table.
   */
  baseIngredient(name: string): string {
    if (!name) return name;
    let current = name;
    for (let guard = 0; guard < 4; guard++) {
      const salt = this.tables.salts.find((s) => current.endsWith(` ${s}`));
      if (!salt) break;
      current = current.slice(0, -(salt.length + 1)).trim();
      if (this.tables.ingredientAtc.has(current)) return current;
    }
    if (this.tables.ingredientAtc.has(name)) return name;
    // A leading salt word ("sodium valproate" style) is rarer; try it once.
    const lead = this.tables.salts.find((s) => name.startsWith(`${s} `));
    if (lead) {
      const rest = name.slice(lead.length + 1);
      if (this.tables.ingredientAtc.has(rest)) return rest;
    }
    return name;
  }

  /** The name with every trailing salt word removed, known base or not: only for comparing two spellings of a drug. */
  private stripSalts(name: string): string {
    let current = name;
    for (let guard = 0; guard < 4; guard++) {
      const salt = this.tables.salts.find((s) => current.endsWith(` ${s}`));
      if (!salt) break;
      current = current.slice(0, -(salt.length + 1)).trim();
    }
    return current;
  }

  /**
   * A biosimilar's FDA suffix ("infliximab-dyyb", "insulin glargine-yfgn") names the same substance: the suffix is
   * dropped when what remains is a known ingredient.
   */
  private withoutBiosimilarSuffix(raw: string): string {
    const m = /^(.*\S)-[a-z]{4}$/.exec(raw.trim());
    if (!m) return raw;
    return this.tables.ingredientAtc.has(this.baseIngredient(normaliseName(m[1]!))) ? m[1]! : raw;
  }

  /** Ingredients of a parsed name, reduced to base ingredients. */
  ingredientsOfParse(parse: RxNormNameParse): string[] {
    if (parse.kind !== 'parsed') return [];
    const out: string[] = [];
    for (const raw of parse.ingredients) {
      const base = this.baseIngredient(normaliseName(this.withoutBiosimilarSuffix(raw)));
      if (base && !out.includes(base)) out.push(base);
    }
    return out;
  }

  /** Ingredients of an RxNorm coding: code table, else its display as an RxNorm name. */
  resolveCoding(coding: Coding): IngredientResolution {
    const code = typeof coding.code === 'string' ? coding.code.trim() : '';
    const display = typeof coding.display === 'string' ? coding.display : '';
    const key = `${code}\u0000${display}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const result = this.resolveUncached(code, display);
    this.remember(key, result);
    return result;
  }

  /**
   * Ingredients of a free-text name (CodeableConcept.text): accepted only when every parsed ingredient is in the
   * ingredient table, because free text is not bound to RxNorm's convention and a wrong guess would mislead.
   */
  resolveText(text: string): IngredientResolution {
    const key = `\u0001${text}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const parse = parseRxNormName(text);
    let result: IngredientResolution;
    if (parse.kind === 'unparsed') result = { ingredients: [], via: 'none', reason: `text does not parse as an RxNorm name: ${parse.reason}` };
    else {
      const ingredients = this.ingredientsOfParse(parse);
      const unknown = ingredients.filter((i) => !this.tables.ingredientAtc.has(i));
      result =
        unknown.length === 0 && ingredients.length > 0
          ? { ingredients, via: 'name', ...(parse.doseForm ? { doseForm: parse.doseForm } : {}) }
          : { ingredients: [], via: 'none', reason: `text names ingredient(s) not in the ingredient table: ${unknown.join(', ')}` };
    }
    this.remember(key, result);
    return result;
  }

  private remember(key: string, result: IngredientResolution): void {
    if (key.length > CACHE_KEY_LIMIT) return;
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, result);
  }

  private resolveUncached(code: string, display: string): IngredientResolution {
    const entry = code ? this.tables.codes.get(code) : undefined;
    if (entry) {
      const ingredients = unique(entry.ingredients.map((i) => this.baseIngredient(i)));
      // A code table row that contradicts the coding's own display is withheld rather than trusted either way:
      // one of the two is wrong (a stale extract, a mis-keyed row) and the order must not be screened as the other drug.
      const parse = display.trim() ? parseRxNormName(display) : undefined;
      if (parse?.kind === 'parsed') {
        const named = this.ingredientsOfParse(parse);
        const comparable = named.every((n) => this.tables.ingredientAtc.has(n)) && ingredients.every((n) => this.tables.ingredientAtc.has(n));
        if (comparable && !sameSet(named.map((n) => this.stripSalts(n)), ingredients.map((n) => this.stripSalts(n)))) {
          return {
            ingredients: [],
            via: 'none',
            reason: `RxCUI ${code}: the code table says ${ingredients.join(' + ')} but the display names ${named.join(' + ')}`,
          };
        }
      }
      return { ingredients, via: 'code-table', ...(parse?.kind === 'parsed' && parse.doseForm ? { doseForm: parse.doseForm } : {}) };
    }
    if (!display.trim()) return { ingredients: [], via: 'none', reason: code ? `RxCUI ${code} is not in the code table and the coding has no display` : 'no code and no display' };
    const parse = parseRxNormName(display);
    if (parse.kind === 'unparsed') return { ingredients: [], via: 'none', reason: `display does not parse as an RxNorm name: ${parse.reason}` };
    return { ingredients: this.ingredientsOfParse(parse), via: 'name', ...(parse.doseForm ? { doseForm: parse.doseForm } : {}) };
  }
}
