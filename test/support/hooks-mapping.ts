// Test fixture: a small site mapping as a LoadedMapping (ICD-10-CM diagnoses, SNOMED procedures, ATC or RxNorm
// medications to ATC level 3 labels, RxNorm orderables, a few interacting pairs). Not a production mapping.
import type { Coding } from 'fhir/r4';
import type { CodedEntry } from '../../src/history/types.ts';
import { MappingConfig } from '../../src/mapping/schema.ts';
import type { LabelEntry } from '../../src/mapping/schema.ts';
import type { LoadedMapping } from '../../src/mapping/types.ts';

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
export const SNOMED = 'http://snomed.info/sct';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const ATC = 'http://www.whocc.no/atc';

const rx = (code: string, display: string) => ({ system: RXNORM, code, display });

export const labelCatalog: Record<string, LabelEntry> = {
  A02B: { name: 'Drugs for peptic ulcer and GORD', orderable: rx('7646', 'omeprazole') },
  A10B: { name: 'Blood glucose lowering drugs, excl. insulins', orderable: rx('6809', 'metformin') },
  B01A: { name: 'Antithrombotic agents', orderable: rx('11289', 'warfarin') },
  C07A: { name: 'Beta blocking agents', orderable: rx('6918', 'metoprolol') },
  C09A: { name: 'ACE inhibitors, plain', orderable: rx('29046', 'lisinopril') },
  C10A: { name: 'Lipid modifying agents, plain', orderable: rx('83367', 'atorvastatin') },
  J01C: { name: 'Beta-lactam antibacterials, penicillins', orderable: rx('723', 'amoxicillin') },
  M01A: { name: 'Anti-inflammatory and antirheumatic products, non-steroids', orderable: rx('5640', 'ibuprofen') },
  N02B: { name: 'Other analgesics and antipyretics', orderable: rx('161', 'acetaminophen') },
  // Scored, never suggested: no orderable.
  H02A: { name: 'Corticosteroids for systemic use, plain' },
};

/** RxNorm -> ATC level 3 (what a concept map would give), including the codes drafts in tests and fixtures use. */
const rxnormToLabel: Record<string, string> = {
  '7646': 'A02B',
  '6809': 'A10B',
  '11289': 'B01A',
  '1364430': 'B01A',
  '6918': 'C07A',
  '29046': 'C09A',
  '83367': 'C10A',
  '723': 'J01C',
  '617993': 'J01C',
  '5640': 'M01A',
  '161': 'N02B',
};

export const interactionPairs: ReadonlyArray<readonly [string, string]> = [
  ['B01A', 'M01A'],
  ['C09A', 'M01A'],
  ['B01A', 'J01C'],
];

export function testMapping(): LoadedMapping {
  const config = MappingConfig.parse({
    name: 'hooks-test',
    diagnoses: { systems: [{ system: ICD10, namespace: 'icd10', normalise: 'strip-dots-uppercase' }] },
    procedures: { systems: [{ system: SNOMED, namespace: 'sct' }] },
    medications: { labelSpace: 'atc3', sources: [{ kind: 'coding', system: ATC, transform: { prefix: 4 } }] },
    labels: { entries: labelCatalog },
    interactions: { pairs: interactionPairs.map(([a, b]) => [a, b]) },
  });
  const pairs = new Set(interactionPairs.flatMap(([a, b]) => [`${a}|${b}`, `${b}|${a}`]));
  return {
    name: config.name,
    path: '/test/support/hooks-mapping.ts',
    config,
    labelSpace: 'atc3',
    labelEntry: (label) => labelCatalog[label],
    medicationLabels(codings: readonly Coding[]): string[] {
      for (const c of codings) {
        if (c.system === ATC && typeof c.code === 'string' && c.code) return [c.code.slice(0, 4).toUpperCase()];
      }
      const out: string[] = [];
      for (const c of codings) {
        const label = c.system === RXNORM && typeof c.code === 'string' && Object.hasOwn(rxnormToLabel, c.code) ? rxnormToLabel[c.code] : undefined;
        if (label && !out.includes(label)) out.push(label);
      }
      return out;
    },
    // No ingredient table in this fixture mapping: ingredients are unknown, as for a site without an rxnorm source.
    medicationIngredients: () => [],
    ingredientAtc: () => [],
    codedEntry(kind, coding): CodedEntry | undefined {
      // Malformed JSON may hold a number or an object here: no code, no entry.
      if (typeof coding.code !== 'string' || !coding.code) return undefined;
      if (kind === 'diagnosis' && coding.system === ICD10) {
        const code = coding.code.replace(/\./g, '').toUpperCase();
        return { token: `icd10:${code}`, concept: { system: ICD10, code, ...(coding.display ? { display: coding.display } : {}) } };
      }
      if (kind === 'procedure' && coding.system === SNOMED) {
        return { token: `sct:${coding.code}`, concept: { system: SNOMED, code: coding.code, ...(coding.display ? { display: coding.display } : {}) } };
      }
      return undefined;
    },
    interacts: (a, b) => pairs.has(`${a}|${b}`),
    interactionPairs: () => interactionPairs,
  };
}
