// The clinical record model every part of leader-cds shares: FHIR R4 in, patient histories out.

/** A coded concept after the mapping's normalisation (canonical system, normalised code). */
export interface Concept {
  system: string;
  code: string;
  display?: string;
}

export type ConceptKind = 'diagnosis' | 'procedure' | 'medication';

/** A diagnosis or procedure as the model sees it: the concept plus its vocabulary token. */
export interface CodedEntry {
  /** `${namespace}:${code}`; the namespace comes from the mapping's system rule, so kinds and systems never collide. */
  token: string;
  concept: Concept;
  /** FHIR id of the source resource (Condition/…, Procedure/…), kept for reasonReference and explanations. */
  source?: string;
}

/** One medication order in a history: what was ordered and the labels the mapping gives it. */
export interface MedicationEntry {
  concept: Concept;
  /** Model labels (e.g. ATC level 3). Empty when the mapping cannot place the medication. */
  labels: string[];
  source?: string;
  status?: string;
  authoredOn?: string;
}

export interface EncounterRecord {
  id: string;
  /** ISO 8601 start; encounters are ordered by it. */
  start: string;
  end?: string;
  class?: string;
  /** Whole years at encounter start, when the birth date is known. */
  ageYears?: number;
  diagnoses: CodedEntry[];
  procedures: CodedEntry[];
  medications: MedicationEntry[];
  /** Configured categorical fields read from the Encounter (admission type, ...), by field name. */
  categorical?: Record<string, string>;
}

export interface PatientProfile {
  sex?: string;
  birthDate?: string;
  /** Configured categorical fields (insurance, language, marital status, race, ...), by field name. */
  categorical: Record<string, string>;
}

export interface PatientHistory {
  patientId: string;
  profile: PatientProfile;
  /** Ordered by start time, oldest first. */
  encounters: EncounterRecord[];
}
