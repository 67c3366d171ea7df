// Feedback persistence in an embedded SQLite database (no server to run): which cards were issued with which
// model version and label, what clinicians did with them, and acceptance rates per model version and label.
import Database from 'better-sqlite3';
import { openServiceDatabase } from '../sqlite.ts';
import type { FeedbackItem } from './schema.ts';

/** One label a card proposed: the card, the suggestion that carried it (if any), and the model behind it. */
export interface IssuedCard {
  service: string;
  cardUuid: string;
  /** The suggestion carrying this label; absent when the card as a whole stands for the label. */
  suggestionUuid?: string;
  modelVersion: string;
  label: string;
  hookInstance?: string;
  /** ISO time; now when absent. */
  issuedAt?: string;
}

export interface StoreResult {
  stored: number;
  duplicates: number;
  storedByOutcome: Record<FeedbackItem['outcome'], number>;
}

export interface AcceptanceRow {
  modelVersion: string;
  label: string;
  /** Labels proposed (card or suggestion level). */
  issued: number;
  /** Proposals whose card received any feedback. */
  withFeedback: number;
  /** Proposals accepted (their suggestion, or their card when it had none). */
  accepted: number;
  /** Proposals on cards overridden and not accepted. */
  overridden: number;
  /** accepted / withFeedback; null before any feedback. */
  acceptanceRate: number | null;
}

export interface FeedbackSummary {
  rows: AcceptanceRow[];
  /** Feedback items naming cards this database never saw issued (e.g. issued before the database was reset). */
  unmatchedFeedback: number;
  totalFeedback: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS issued_cards (
  service TEXT NOT NULL,
  card_uuid TEXT NOT NULL,
  suggestion_uuid TEXT NOT NULL DEFAULT '',
  model_version TEXT NOT NULL,
  label TEXT NOT NULL,
  hook_instance TEXT,
  issued_at TEXT NOT NULL,
  PRIMARY KEY (service, card_uuid, suggestion_uuid, label)
);
CREATE TABLE IF NOT EXISTS feedback (
  service TEXT NOT NULL,
  card_uuid TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
  suggestion_id TEXT NOT NULL DEFAULT '',
  override_system TEXT,
  override_code TEXT,
  override_display TEXT,
  user_comment TEXT,
  outcome_timestamp TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (service, card_uuid, outcome, suggestion_id)
);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback (service, card_uuid);
`;

export class FeedbackStore {
  private readonly db: Database.Database;
  private readonly insertIssued: Database.Statement;
  private readonly insertFeedback: Database.Statement;
  private closed = false;
  /** Issued cards waiting for the next write: one transaction per event-loop turn, not one per card. */
  private pending: Array<IssuedCard & { issuedAt: string }> = [];
  private flushTimer: NodeJS.Immediate | undefined;

  constructor(
    readonly file: string,
    private readonly onWriteError: (err: unknown, rows: number) => void = (err, rows) =>
      console.error(`feedback store ${file}: ${rows} issued-card rows not written: ${(err as Error).message}`),
  ) {
    this.db = openServiceDatabase(file, SCHEMA);
    this.insertIssued = this.db.prepare(
      `INSERT OR IGNORE INTO issued_cards (service, card_uuid, suggestion_uuid, model_version, label, hook_instance, issued_at)
       VALUES (@service, @cardUuid, @suggestionUuid, @modelVersion, @label, @hookInstance, @issuedAt)`,
    );
    this.insertFeedback = this.db.prepare(
      `INSERT OR IGNORE INTO feedback (service, card_uuid, outcome, suggestion_id, override_system, override_code,
         override_display, user_comment, outcome_timestamp, received_at)
       VALUES (@service, @card, @outcome, @suggestion, @system, @code, @display, @comment, @outcomeTimestamp, @receivedAt)`,
    );
  }

  /**
   * Hook handlers call this for every card they return, so that feedback can be tied to model and label. The rows
   * are written at the end of the current event-loop turn, together with those of the other calls answered in it
   * (a commit per card cost more than the rest of a call's bookkeeping); reads and close write them first.
   */
  recordIssuedCards(cards: readonly IssuedCard[]): void {
    if (this.closed) throw new Error(`feedback store ${this.file} is closed`);
    const now = new Date().toISOString();
    for (const c of cards) this.pending.push({ ...c, issuedAt: c.issuedAt ?? now });
    this.flushTimer ??= setImmediate(() => {
      this.flushTimer = undefined;
      try {
        this.flush();
      } catch (err) {
        this.onWriteError(err, this.pending.length);
        this.pending = [];
      }
    });
  }

  /** Writes the issued cards still waiting, in one transaction. */
  flush(): void {
    if (this.flushTimer) {
      clearImmediate(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.db.transaction(() => {
      for (const c of rows)
        this.insertIssued.run({
          service: c.service,
          cardUuid: c.cardUuid,
          suggestionUuid: c.suggestionUuid ?? '',
          modelVersion: c.modelVersion,
          label: c.label,
          hookInstance: c.hookInstance ?? null,
          issuedAt: c.issuedAt,
        });
    })();
    this.pending = [];
  }

  /** Stores feedback; the same item posted again is stored once (key: service, card, outcome, suggestion). */
  storeFeedback(service: string, items: readonly FeedbackItem[]): StoreResult {
    this.flush();
    const receivedAt = new Date().toISOString();
    const run = this.db.transaction((list: readonly FeedbackItem[]) => {
      let stored = 0;
      let total = 0;
      const storedByOutcome = { accepted: 0, overridden: 0 };
      for (const item of list) {
        const reason = item.overrideReason?.reason;
        const base = {
          service,
          card: item.card,
          outcome: item.outcome,
          system: reason?.system ?? null,
          code: reason?.code ?? null,
          display: reason?.display ?? null,
          comment: item.overrideReason?.userComment ?? null,
          outcomeTimestamp: item.outcomeTimestamp,
          receivedAt,
        };
        const suggestions = item.outcome === 'accepted' ? [...new Set((item.acceptedSuggestions ?? []).map((s) => s.id))] : [''];
        for (const suggestion of suggestions) {
          total++;
          const changes = this.insertFeedback.run({ ...base, suggestion }).changes;
          stored += changes;
          storedByOutcome[item.outcome] += changes;
        }
      }
      return { stored, duplicates: total - stored, storedByOutcome };
    });
    return run(items);
  }

  summary(): FeedbackSummary {
    this.flush();
    const rows = this.db
      .prepare(
        `WITH decided AS (
           SELECT i.model_version, i.label,
             EXISTS (SELECT 1 FROM feedback f WHERE f.service = i.service AND f.card_uuid = i.card_uuid) AS has_feedback,
             EXISTS (SELECT 1 FROM feedback f WHERE f.service = i.service AND f.card_uuid = i.card_uuid AND f.outcome = 'accepted'
                       AND (i.suggestion_uuid = '' OR f.suggestion_id = i.suggestion_uuid)) AS accepted,
             EXISTS (SELECT 1 FROM feedback f WHERE f.service = i.service AND f.card_uuid = i.card_uuid AND f.outcome = 'overridden') AS overridden
           FROM issued_cards i)
         SELECT model_version AS modelVersion, label, COUNT(*) AS issued, SUM(has_feedback) AS withFeedback,
           SUM(accepted) AS accepted, SUM(overridden AND NOT accepted) AS overridden
         FROM decided GROUP BY model_version, label ORDER BY model_version, label`,
      )
      .all() as Array<Omit<AcceptanceRow, 'acceptanceRate'>>;
    const counts = this.db
      .prepare(
        `SELECT COUNT(*) AS total,
           SUM(NOT EXISTS (SELECT 1 FROM issued_cards i WHERE i.service = f.service AND i.card_uuid = f.card_uuid)) AS unmatched
         FROM feedback f`,
      )
      .get() as { total: number; unmatched: number | null };
    return {
      rows: rows.map((r) => ({ ...r, acceptanceRate: r.withFeedback > 0 ? r.accepted / r.withFeedback : null })),
      unmatchedFeedback: counts.unmatched ?? 0,
      totalFeedback: counts.total,
    };
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } catch (err) {
      this.onWriteError(err, this.pending.length);
    }
    this.closed = true;
    this.db.close();
  }
}

/** Opens a database that must already exist (the summary command must not create empty ones). */
export function openExistingStore(file: string): FeedbackStore {
  const db = new Database(file, { fileMustExist: true });
  db.close();
  return new FeedbackStore(file);
}
