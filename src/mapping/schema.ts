// The site mapping config (mappings/*.json or *.yaml): how a site's FHIR codes become model inputs and labels.
// Paths inside a mapping are resolved relative to the mapping file.
import { z } from 'zod';

/** How a code is normalised before lookup: ICD codes arrive with and without dots. */
export const Normalisation = z.enum(['none', 'strip-dots', 'uppercase', 'strip-dots-uppercase']);

/** One source code system that counts for a kind (diagnosis or procedure). */
export const SystemRule = z
  .object({
    /** System URI as it appears in the data. */
    system: z.string().min(1),
    /** Canonical system URI recorded in histories (e.g. MIMIC's ICD-9 system -> http://hl7.org/fhir/sid/icd-9-cm). */
    canonical: z.string().min(1).optional(),
    /** Short token namespace, unique within the kind: tokens are `${namespace}:${code}`. */
    namespace: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'),
    normalise: Normalisation.default('none'),
  })
  .strict();

export const KindRules = z
  .object({
    systems: z.array(SystemRule).min(1),
    /**
     * `encounter`: a resource counts at the encounter it references.
     * `until-abatement`: a Condition recorded once at onset (Synthea style) also counts at every later
     * encounter of the patient until its abatement.
     */
    activity: z.enum(['encounter', 'until-abatement']).default('encounter'),
    /** Resources without an encounter reference: drop them (counted), or attach them to the encounter whose period contains their date. */
    withoutEncounter: z.enum(['skip', 'attach-by-date']).default('skip'),
  })
  .strict();

/** Turns a raw code into a label: take a prefix (ATC level 3 = first 4 characters of ATC level 5). */
export const LabelTransform = z
  .object({
    prefix: z.number().int().positive().optional(),
    uppercase: z.boolean().optional(),
  })
  .strict();

/** A medication coding that already is (or contains) the label, e.g. an ATC coding. */
export const DirectSource = z
  .object({
    kind: z.literal('coding'),
    system: z.string().min(1),
    transform: LabelTransform.optional(),
  })
  .strict();

/** A CSV concept map (plain or .gz): a column of source values to a column of label values. */
export const ConceptMapSource = z
  .object({
    kind: z.literal('concept-map'),
    /** Name to override the path from the CLI (`--concept-map name=path`). */
    name: z.string().min(1),
    file: z.string().min(1),
    /**
     * Which medication codings (or Medication.identifier systems) to look up. Required for `code` and `display`;
     * for `text` it limits which codings' displays are tried besides CodeableConcept.text (empty: any coding's display).
     */
    systems: z.array(z.string().min(1)).default([]),
    /**
     * `code`: the coding's code; `display`: the coding's display; `text`: CodeableConcept.text (Medication.code.text)
     * and coding displays, compared after name normalisation (case, accents, whitespace and punctuation ignored).
     */
    match: z.enum(['code', 'display', 'text']).default('code'),
    fromColumn: z.string().min(1),
    toColumn: z.string().min(1),
    caseInsensitive: z.boolean().default(false),
    /**
     * Normalisation of the code on both sides of the lookup. `ndc`: any NDC form (4-4-2, 5-3-2, 5-4-1, 5-4-2,
     * unhyphenated, lost leading zeros) to 11-digit 5-4-2; an ambiguous unhyphenated code matches only a unique hit.
     */
    normalise: z.enum(['none', 'digits-only', 'strip-dots', 'ndc']).default('none'),
    transform: LabelTransform.optional(),
  })
  .strict();

export const RXNORM_SYSTEM_URI = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/**
 * RxNorm codings at any term type (SCD, SBD, GPCK, BPCK, SCDC, SBDC, IN, PIN, MIN): the code table first, else the
 * coding's display parsed by RxNorm's naming convention -> ingredients -> WHO ATC level 5 -> labels (transform).
 */
export const RxNormSource = z
  .object({
    kind: z.literal('rxnorm'),
    systems: z.array(z.string().min(1)).min(1).default([RXNORM_SYSTEM_URI]),
    /** CSV `ingredient,atc` (RxNorm IN spelling, several rows per ingredient allowed). */
    ingredientAtc: z.string().min(1),
    /** CSV `rxcui,tty,ingredients` (ingredients separated by ';') for codes that arrive without a display. */
    codes: z.string().min(1).optional(),
    /** CSV `salt`: salt/ester words removed to reach a base ingredient (PIN -> IN). */
    salts: z.string().min(1).optional(),
    /** CSV `atc_group,dose_form_words`: ATC groups for one route, so an eye drop is not labelled as the tablet. */
    routes: z.string().min(1).optional(),
    /** Also read CodeableConcept.text as an RxNorm name when no coding resolves (every ingredient must be known). */
    text: z.boolean().default(true),
    transform: LabelTransform.optional(),
  })
  .strict();

export const MedicationSource = z.discriminatedUnion('kind', [DirectSource, ConceptMapSource, RxNormSource]);

export const Orderable = z
  .object({
    system: z.string().min(1),
    code: z.string().min(1),
    display: z.string().min(1),
  })
  .strict();

export const LabelEntry = z
  .object({
    /** Human-readable name of the label (e.g. the ATC class name). */
    name: z.string().min(1),
    /** What a suggestion for this label proposes to order. Labels without one are scored but never suggested. */
    orderable: Orderable.optional(),
  })
  .strict();

export const MedicationRules = z
  .object({
    labelSpace: z.string().min(1),
    /** Tried in order; the first source that yields labels wins. */
    sources: z.array(MedicationSource).min(1),
    /** MedicationRequest statuses that count as given (training) or current (serving). */
    statuses: z.array(z.string()).default(['active', 'completed', 'on-hold', 'stopped']),
    withoutEncounter: z.enum(['skip', 'attach-by-date']).default('skip'),
  })
  .strict();

export const LabelCatalog = z
  .object({
    /** JSON file of `{ "<label>": { name, orderable? } }` entries, merged under `entries`. */
    file: z.string().min(1).optional(),
    entries: z.record(z.string(), LabelEntry).default({}),
  })
  .strict();

export const Interactions = z
  .object({
    /** CSV (or .gz) of interacting label pairs. */
    file: z.string().min(1).optional(),
    columns: z.tuple([z.string(), z.string()]).default(['atc3_a', 'atc3_b']),
    /** Inline pairs, in addition to the file. */
    pairs: z.array(z.tuple([z.string(), z.string()])).default([]),
  })
  .strict();

export const ProfileField = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'snake_case'),
    resource: z.enum(['Patient', 'Encounter']),
    /** FHIRPath evaluated on the resource; the first value (a string or a Coding's code) is used. */
    fhirpath: z.string().min(1),
  })
  .strict();

export const ProfileRules = z
  .object({
    fields: z.array(ProfileField).default([]),
    /** Age bands in years (lower bounds); `age_band` is the band of the age at encounter start. */
    ageBands: z.array(z.number().int().nonnegative()).default([0, 18, 30, 40, 50, 60, 70, 80, 90]),
  })
  .strict();

export const EncounterRules = z
  .object({
    /** Encounter.class codes that count; empty = all. */
    classes: z.array(z.string()).default([]),
    /** Keep encounters only when they have at least one diagnosis and one medication label (training targets). */
    requireDiagnosisAndLabel: z.boolean().default(true),
  })
  .strict();

export const MappingConfig = z
  .object({
    $schema: z.string().optional(),
    name: z.string().min(1),
    description: z.string().optional(),
    diagnoses: KindRules,
    procedures: KindRules,
    medications: MedicationRules,
    labels: LabelCatalog.default({}),
    interactions: Interactions.default({}),
    profile: ProfileRules.default({}),
    encounters: EncounterRules.default({}),
  })
  .strict();

export type MappingConfig = z.infer<typeof MappingConfig>;
export type SystemRule = z.infer<typeof SystemRule>;
export type KindRules = z.infer<typeof KindRules>;
export type MedicationSource = z.infer<typeof MedicationSource>;
export type LabelEntry = z.infer<typeof LabelEntry>;
export type Orderable = z.infer<typeof Orderable>;
export type ProfileField = z.infer<typeof ProfileField>;
