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
  /** Condition.clinicalStatus when the source recorded one: a resolved condition is history, never "now". */
  clinicalStatus?: string;
  /** Condition abatement date, kept with an ended clinicalStatus: ended as of a date only if it abated by then. */
  abatement?: string;
}

/**
 * A Condition as a problem of the patient (not tied to one encounter's period): what "active problems as of a date"
 * is computed from when no encounter is in progress (src/history/now.ts).
 */
export interface ProblemEntry extends CodedEntry {
  clinicalStatus?: string;
  verificationStatus?: string;
  onset?: string;
  abatement?: string;
  /** Some abatement[x] is recorded (dated or not). */
  abated?: boolean;
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
  /** Encounter.status when the source recorded one. */
  status?: string;
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
  /** Every mapped Condition of the patient with its statuses (kept when the reader is asked to: serving). */
  problems?: ProblemEntry[];
}
