// The compact facts both readers extract from FHIR resources (only what histories need, not whole resources),
// which src/history/assemble.ts turns into a PatientHistory.
import type { Coding } from 'fhir/r4';

/** Where a fact came from, for issues: file name (or `bundle`) and 1-based line (or entry index). */
export interface FactSource {
  file: string;
  line: number;
}

export interface PatientFact extends FactSource {
  id: string;
  sex?: string;
  birthDate?: string;
  categorical: Record<string, string>;
}

export interface EncounterFact extends FactSource {
  id: string;
  /** Encounter.status (planned, arrived, triaged, in-progress, onleave, finished, cancelled, ...). */
  status?: string;
  start?: string;
  end?: string;
  class?: string;
  categorical?: Record<string, string>;
}

/** A Condition (diagnosis) or Procedure. */
export interface CodedFact extends FactSource {
  kind: 'diagnosis' | 'procedure';
  id: string;
  encounter?: string;
  /** Onset (Condition) or performed (Procedure) date, for date attachment and until-abatement activity. */
  date?: string;
  abatement?: string;
  /** Some abatement[x] is present (dated or not). */
  abated?: boolean;
  /** Condition.clinicalStatus code (active, recurrence, relapse, inactive, remission, resolved). */
  clinicalStatus?: string;
  /** Condition.verificationStatus code (refuted and entered-in-error never reach a fact). */
  verificationStatus?: string;
  codings: Coding[];
  text?: string;
}

export interface MedicationFact {
  id: string;
  codings: Coding[];
  /** Display text: code.text, or the name the codings carry. */
  text?: string;
  /** Ingredient Medication ids (mixtures reference their components). */
  ingredients?: string[];
  /** Ingredients contained in the Medication itself. */
  containedIngredients?: MedicationFact[];
}

export interface MedicationRequestFact extends FactSource {
  id: string;
  encounter?: string;
  authoredOn?: string;
  status?: string;
  /** medicationCodeableConcept codings. */
  codings?: Coding[];
  text?: string;
  /** medicationReference to a separate Medication (its id). */
  medicationId?: string;
  /** medicationReference to a contained Medication, already resolved. */
  medication?: MedicationFact;
}

/** Everything read for one patient. */
export interface PatientFacts {
  patientId: string;
  patient?: PatientFact;
  encounters: EncounterFact[];
  coded: CodedFact[];
  requests: MedicationRequestFact[];
  /** Where the patient was first referenced (for a dangling subject). */
  firstSeen?: FactSource;
}

export function emptyPatientFacts(patientId: string): PatientFacts {
  return { patientId, encounters: [], coded: [], requests: [] };
}
