// The training-set format shared by dataset building, training, evaluation and the teacher.
// One record per encounter: the encounter is the prediction target, earlier encounters are history.

/** One earlier encounter, as model tokens. */
export interface HistoryVisit {
  encounterId: string;
  start: string;
  /** Diagnosis tokens (`namespace:code`). */
  diagnoses: string[];
  /** Procedure tokens (`namespace:code`). */
  procedures: string[];
  /** Medication labels given at that encounter. */
  medications: string[];
}

export interface DatasetRecord {
  patientId: string;
  encounterId: string;
  /** 0-based position of the target encounter in the patient's history. */
  visitIndex: number;
  /** Number of target-eligible encounters the patient has in this dataset (1 = single-encounter patient). */
  patientVisits: number;
  start: string;
  /** Categorical profile: `sex`, `age_band` and the mapping's configured fields; absent values are omitted. */
  profile: Record<string, string>;
  /** Earlier encounters, oldest first (all of them; models truncate, keeping the most recent). */
  history: HistoryVisit[];
  diagnoses: string[];
  procedures: string[];
  /** Medication labels of the target encounter. */
  labels: string[];
}

/** First line of a dataset file. */
export interface DatasetHeader {
  type: 'header';
  format: 'leader-dataset';
  version: 1;
  mapping: string;
  /** What the mapping's tokens and labels mean (src/mapping/fingerprint.ts); absent in files written before it was kept. */
  mappingFingerprint?: string;
  labelSpace: string;
  createdAt: string;
}

/** Last lines of a dataset file: display names of tokens and labels (for prompts and reports), and a summary. */
export interface DatasetNames {
  type: 'names';
  /** token or label -> human-readable name */
  names: Record<string, string>;
}

export interface DatasetSummary {
  type: 'summary';
  patients: number;
  encounters: number;
  singleEncounterPatients: number;
  multiEncounterPatients: number;
  skippedEncounters: Record<string, number>;
  labelFrequencies: Record<string, number>;
  /** sha256 over the records, in file order: the training-data fingerprint models carry. */
  fingerprint: string;
}

export type DatasetLine = DatasetHeader | ({ type: 'record' } & DatasetRecord) | DatasetNames | DatasetSummary;

export interface Dataset {
  header: DatasetHeader;
  records: DatasetRecord[];
  names: Record<string, string>;
  summary: DatasetSummary;
}
