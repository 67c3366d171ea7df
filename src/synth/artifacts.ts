// The mapping artefacts derived from facts.ts (single source): the RxNorm -> ATC concept map, the interaction
// pairs and the ATC level-3 label catalog. scripts/synth-facts.ts writes them; a test checks the files match.
import { ATC3_NAMES } from './atc-classes.ts';
import { INGREDIENTS, INTERACTIONS, RXNORM_SYSTEM, type Drug } from './facts.ts';

/** Representative orderable per class where the first-listed ingredient is not the usual first choice. */
const REPRESENTATIVE: Partial<Record<string, Drug>> = {
  B01A: 'apixaban',
  C07A: 'metoprolol',
  J01D: 'ceftriaxone',
  J01X: 'vancomycin',
  N02A: 'oxycodone',
  N03A: 'levetiracetam',
  N05A: 'quetiapine',
  N05B: 'lorazepam',
  N06A: 'sertraline',
  H02A: 'prednisone',
  M01A: 'ibuprofen',
  A10B: 'metformin',
};

export function rxnormAtcCsv(): string {
  const rows = Object.values(INGREDIENTS)
    .map((f) => [f.rxcui, f.atc] as const)
    .sort((a, b) => Number(a[0]) - Number(b[0]));
  return ['rxcui,atc', ...rows.map(([rx, atc]) => `${rx},${atc}`)].join('\n') + '\n';
}

export function ddiCsv(): string {
  return ['atc3_a,atc3_b', ...INTERACTIONS.map(([a, b]) => `${a},${b}`)].join('\n') + '\n';
}

export interface CatalogEntry {
  name: string;
  orderable?: { system: string; code: string; display: string };
}

/** Every named ATC level-3 class; the cohort's classes also get an orderable representative ingredient. */
export function atc3Catalog(): Record<string, CatalogEntry> {
  const byClass = new Map<string, Drug>();
  for (const [drug, f] of Object.entries(INGREDIENTS) as Array<[Drug, (typeof INGREDIENTS)[Drug]]>) {
    const c = f.atc.slice(0, 4);
    if (!byClass.has(c)) byClass.set(c, drug);
  }
  const catalog: Record<string, CatalogEntry> = {};
  for (const code of Object.keys(ATC3_NAMES).sort()) {
    const entry: CatalogEntry = { name: ATC3_NAMES[code]! };
    const drug = REPRESENTATIVE[code] ?? byClass.get(code);
    if (drug) {
      const f = INGREDIENTS[drug];
      entry.orderable = { system: RXNORM_SYSTEM, code: f.rxcui, display: f.name };
    }
    catalog[code] = entry;
  }
  return catalog;
}

export function atc3CatalogJson(): string {
  return JSON.stringify(atc3Catalog(), null, 2) + '\n';
}

/** Files under mappings/, relative to it, and their generated content. */
export function mappingArtifacts(): Record<string, string> {
  return {
    'synthetic/rxnorm-atc.csv': rxnormAtcCsv(),
    'synthetic/ddi-atc3.csv': ddiCsv(),
    'catalogs/atc3.json': atc3CatalogJson(),
  };
}
