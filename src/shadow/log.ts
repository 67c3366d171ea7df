// Shadow mode's record (issue 13): what a service in `mode: shadow` would have suggested, and what the drafts of
// every order-sign call were (actual orders). Kept in the feedback database's file, in tables of its own.
// It holds patient ids: protect it like the EHR's own audit trail (docs/shadow-mode.md).
import type Database from 'better-sqlite3';
import { openServiceDatabase } from '../service/sqlite.ts';

export interface ShadowSuggestion {
  label: string;
  probability: number;
}

/** One call of a shadow-mode service: every call is kept, with or without suggestions (the alert rate needs both). */
export interface ShadowCall {
  service: string;
  hook: string;
  hookInstance: string;
  patientId: string;
  encounterId?: string;
  userId?: string;
  modelVersion: string;
  /** ISO time of the call. */
  at: string;
  /** What a live card would have offered, best first ([] when no card would have been shown). */
  suggestions: ShadowSuggestion[];
  /** Labels drafted, selected or active at the call (never suggested; not counted as hits). */
  current: string[];
}

/** The labels of the drafts an order-sign call was asked to check: what the clinician was about to order. */
export interface ObservedOrders {
  service: string;
  hookInstance: string;
  patientId: string;
  encounterId?: string;
  at: string;
  labels: string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS shadow_calls (
  service TEXT NOT NULL,
  hook TEXT NOT NULL,
  hook_instance TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  encounter_id TEXT,
  user_id TEXT,
  model_version TEXT NOT NULL,
  at TEXT NOT NULL,
  suggestions TEXT NOT NULL,
  current TEXT NOT NULL,
  PRIMARY KEY (service, hook_instance)
);
CREATE INDEX IF NOT EXISTS shadow_calls_patient ON shadow_calls (patient_id, at);
CREATE TABLE IF NOT EXISTS observed_orders (
  service TEXT NOT NULL,
  hook_instance TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  encounter_id TEXT,
  at TEXT NOT NULL,
  labels TEXT NOT NULL,
  PRIMARY KEY (service, hook_instance)
);
CREATE INDEX IF NOT EXISTS observed_orders_patient ON observed_orders (patient_id, at);
`;

interface CallRow {
  service: string;
  hook: string;
  hook_instance: string;
  patient_id: string;
  encounter_id: string | null;
  user_id: string | null;
  model_version: string;
  at: string;
  suggestions: string;
  current: string;
}

interface OrdersRow {
  service: string;
  hook_instance: string;
  patient_id: string;
  encounter_id: string | null;
  at: string;
  labels: string;
}

export class ShadowLog {
  private readonly db: Database.Database;
  private readonly insertCall: Database.Statement;
  private readonly insertOrders: Database.Statement;

  constructor(file: string) {
    this.db = openServiceDatabase(file, SCHEMA);
    // A retried call (same hookInstance) is one call.
    this.insertCall = this.db.prepare(
      `INSERT OR REPLACE INTO shadow_calls (service, hook, hook_instance, patient_id, encounter_id, user_id, model_version, at, suggestions, current)
       VALUES (@service, @hook, @hookInstance, @patientId, @encounterId, @userId, @modelVersion, @at, @suggestions, @current)`,
    );
    this.insertOrders = this.db.prepare(
      `INSERT OR REPLACE INTO observed_orders (service, hook_instance, patient_id, encounter_id, at, labels)
       VALUES (@service, @hookInstance, @patientId, @encounterId, @at, @labels)`,
    );
  }

  recordCall(call: ShadowCall): void {
    this.insertCall.run({
      ...call,
      encounterId: call.encounterId ?? null,
      userId: call.userId ?? null,
      suggestions: JSON.stringify(call.suggestions),
      current: JSON.stringify(call.current),
    });
  }

  recordOrders(orders: ObservedOrders): void {
    this.insertOrders.run({ ...orders, encounterId: orders.encounterId ?? null, labels: JSON.stringify(orders.labels) });
  }

  calls(service?: string): ShadowCall[] {
    const rows = (service
      ? this.db.prepare('SELECT * FROM shadow_calls WHERE service = ? ORDER BY at').all(service)
      : this.db.prepare('SELECT * FROM shadow_calls ORDER BY at').all()) as CallRow[];
    return rows.map((r) => ({
      service: r.service,
      hook: r.hook,
      hookInstance: r.hook_instance,
      patientId: r.patient_id,
      ...(r.encounter_id ? { encounterId: r.encounter_id } : {}),
      ...(r.user_id ? { userId: r.user_id } : {}),
      modelVersion: r.model_version,
      at: r.at,
      suggestions: JSON.parse(r.suggestions) as ShadowSuggestion[],
      current: JSON.parse(r.current) as string[],
    }));
  }

  observedOrders(): ObservedOrders[] {
    return (this.db.prepare('SELECT * FROM observed_orders ORDER BY at').all() as OrdersRow[]).map((r) => ({
      service: r.service,
      hookInstance: r.hook_instance,
      patientId: r.patient_id,
      ...(r.encounter_id ? { encounterId: r.encounter_id } : {}),
      at: r.at,
      labels: JSON.parse(r.labels) as string[],
    }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
