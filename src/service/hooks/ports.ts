// What the hook logic needs from the rest of leader-cds, as narrow ports: the model runtime, the history
// builders, metrics and the feedback store's card log are bound by whoever wires the service.
import type { DatasetRecord } from '../../dataset/types.ts';
import type { PatientHistory } from '../../history/types.ts';
import type { LoadedMapping } from '../../mapping/types.ts';
import type { Orderable } from '../../mapping/schema.ts';
import type { FhirResource, Bundle } from 'fhir/r4';

export interface LabelInfo {
  name: string;
  orderable?: Orderable;
}

/** A code the model never saw, read as the known code the model directory's code map gives (src/model/runtime/code-map.ts). */
export interface CodeSubstitution {
  kind: 'diagnosis' | 'procedure';
  /** `current` or the earlier encounter's id. */
  encounter: string;
  from: string;
  /** The unseen code's name, when the code map knows it. */
  fromName?: string;
  to: string;
  toName?: string;
}

/** One record's probabilities and what the model read in place of its unseen codes (empty when nothing). */
export interface RecordScores {
  probabilities: Float32Array;
  substitutions: readonly CodeSubstitution[];
}

/** The served model: probabilities aligned with `labels`. */
export interface MedicationModel {
  readonly version: string;
  readonly labels: readonly string[];
  /** Probability at or above which a label is suggested. */
  readonly threshold: number;
  labelInfo(label: string): LabelInfo | undefined;
  /** `signal`: the call gave up (time budget spent, client gone); a model may then skip the work and reject. */
  predict(records: DatasetRecord[], signal?: AbortSignal): Promise<Float32Array[]>;
  /**
   * The record being scored, with its substitutions (occlusion variants go through `predict`: their substitutions
   * are the record's). A model without a code map may leave it out; `predict` is then used.
   */
  scoreRecord?(record: DatasetRecord, signal?: AbortSignal): Promise<RecordScores>;
}

export interface HistoryIssue {
  message: string;
  [key: string]: unknown;
}

/** The FHIR reader and dataset builder (src/fhir/bundle-reader.ts, src/dataset/records.ts). */
export interface HistoryBuilder {
  historyFromResources(
    resources: FhirResource[] | Bundle,
    mapping: LoadedMapping,
    patientId?: string,
  ): { history: PatientHistory; issues: readonly unknown[] };
  recordForEncounter(history: PatientHistory, encounterIndex: number, mapping: LoadedMapping): DatasetRecord;
}

export type FallbackOutcome = 'ok' | 'http-error' | 'timeout' | 'network-error' | 'refused';
export type PrefetchSource = 'prefetch' | 'fetched' | 'failed' | 'not-needed';

/** Counters the edge binds to prom-client (src/service/ops/*). Never given tokens or patient data. */
export interface HookMetrics {
  fallbackRequest(resourceType: string, outcome: FallbackOutcome, seconds: number): void;
  prefetchKey(key: string, source: PrefetchSource): void;
  cards?(hook: string, kind: CardKind, count: number): void;
  /** Unseen codes read as known ones, shown on a suggestion card. */
  substitutions?(hook: string, kind: CodeSubstitution['kind'], count: number): void;
}

export type CardKind = 'suggestion' | 'interaction' | 'missing-class';

/** What a card said, for the feedback store (which card uuid carried which model version and labels). */
export interface CardLogEntry {
  cardUuid: string;
  kind: CardKind;
  serviceId: string;
  hook: string;
  hookInstance: string;
  patientId: string;
  encounterId?: string;
  modelVersion: string;
  labels: string[];
  suggestions: Array<{ uuid: string; label: string }>;
  createdAt: string;
}

export interface CardLog {
  record(entry: CardLogEntry): void | Promise<void>;
}
