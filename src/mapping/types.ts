// What the rest of leader-cds sees of a loaded, validated mapping (src/mapping/load.ts builds it).
import type { Coding } from 'fhir/r4';
import type { CodedEntry } from '../history/types.ts';
import type { LabelEntry, MappingConfig } from './schema.ts';

export interface LoadedMapping {
  readonly name: string;
  /** Absolute path of the mapping file (errors and manifests name it). */
  readonly path: string;
  readonly config: MappingConfig;
  readonly labelSpace: string;
  /** Name and orderable of a label, from the label catalog. */
  labelEntry(label: string): LabelEntry | undefined;
  /**
   * Labels of a medication given its codings (a CodeableConcept's codings, or a Medication's code codings plus its
   * identifiers as codings) and, when there is one, its CodeableConcept.text (Medication.code.text).
   */
  medicationLabels(codings: readonly Coding[], text?: string): string[];
  /** Lower-case base ingredient names of a medication (every ingredient of a combination); [] if unknown. */
  medicationIngredients(codings: readonly Coding[], text?: string): string[];
  /** WHO ATC level-5 codes of an ingredient (any spelling the ingredient table normalises to); [] if unknown. */
  ingredientAtc(ingredient: string): string[];
  /** The diagnosis or procedure entry of a coding when its system is configured for that kind. */
  codedEntry(kind: 'diagnosis' | 'procedure', coding: Coding): CodedEntry | undefined;
  /** True when the two labels are a known interacting pair (order does not matter). */
  interacts(a: string, b: string): boolean;
  interactionPairs(): ReadonlyArray<readonly [string, string]>;
}
