// State every worker of the service must see alike, in SQLite (the feedback database file, its own tables):
// what an ordering session was already told (order-sign must not repeat order-select, whichever worker answered
// it) and the JWT ids already used (a replayed token must be refused by every worker, and after a restart too).
import type Database from 'better-sqlite3';
import { openServiceDatabase } from './sqlite.ts';
import type { ReplayStore } from './auth/replay-cache.ts';
import { sessionId, type SessionKey, type SessionMemory } from './hooks/session-store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS session_said (
  session TEXT NOT NULL,
  item TEXT NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (session, item)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_said_expires ON session_said (expires);
CREATE TABLE IF NOT EXISTS jwt_seen (
  key TEXT PRIMARY KEY,
  expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jwt_seen_expires ON jwt_seen (expires);
`;

export interface SharedStateOptions {
  /** How long a session's memory lasts after its last call. */
  sessionTtlMs?: number;
  /** Upper bound on remembered sessions; the ones closest to expiry go first. */
  maxSessions?: number;
  /** Upper bound on remembered token ids. */
  maxTokenIds?: number;
  now?: () => number;
}

/** How often expired rows are swept (a sweep is one indexed DELETE per table). */
const SWEEP_MS = 10_000;

export class SharedState {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly maxTokenIds: number;
  private nextSweep = 0;
  private closed = false;
  private readonly q: {
    said: Database.Statement<[string, number], { item: string }>;
    forget: Database.Statement<[string, number]>;
    touch: Database.Statement<[number, string]>;
    add: Database.Statement<[string, string, number]>;
    seen: Database.Statement<[string, number, number]>;
    sweepSessions: Database.Statement<[number]>;
    sweepTokens: Database.Statement<[number]>;
    sessionCount: Database.Statement<[], { n: number }>;
    tokenCount: Database.Statement<[], { n: number }>;
    trimSessions: Database.Statement<[number]>;
    trimTokens: Database.Statement<[number]>;
  };

  constructor(
    readonly file: string,
    options: SharedStateOptions = {},
  ) {
    this.db = openServiceDatabase(file, SCHEMA);
    this.now = options.now ?? Date.now;
    this.ttlMs = options.sessionTtlMs ?? 4 * 60 * 60 * 1000;
    this.maxSessions = Math.max(1, options.maxSessions ?? 10_000);
    this.maxTokenIds = Math.max(1, options.maxTokenIds ?? 100_000);
    this.q = {
      said: this.db.prepare('SELECT item FROM session_said WHERE session = ? AND expires > ?'),
      forget: this.db.prepare('DELETE FROM session_said WHERE session = ? AND expires <= ?'),
      touch: this.db.prepare('UPDATE session_said SET expires = ? WHERE session = ?'),
      add: this.db.prepare('INSERT INTO session_said (session, item, expires) VALUES (?, ?, ?) ON CONFLICT (session, item) DO UPDATE SET expires = excluded.expires'),
      // Inserts a new id, or takes over an expired one; no change means the id is live: a replay.
      seen: this.db.prepare('INSERT INTO jwt_seen (key, expires) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE jwt_seen.expires <= ?'),
      sweepSessions: this.db.prepare('DELETE FROM session_said WHERE expires <= ?'),
      sweepTokens: this.db.prepare('DELETE FROM jwt_seen WHERE expires <= ?'),
      sessionCount: this.db.prepare('SELECT COUNT(DISTINCT session) AS n FROM session_said'),
      tokenCount: this.db.prepare('SELECT COUNT(*) AS n FROM jwt_seen'),
      trimSessions: this.db.prepare(
        'DELETE FROM session_said WHERE session IN (SELECT session FROM session_said GROUP BY session ORDER BY MAX(expires) LIMIT ?)',
      ),
      trimTokens: this.db.prepare('DELETE FROM jwt_seen WHERE key IN (SELECT key FROM jwt_seen ORDER BY expires LIMIT ?)'),
    };
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_MS;
    this.db.transaction(() => {
      this.q.sweepSessions.run(now);
      this.q.sweepTokens.run(now);
      const sessions = this.q.sessionCount.get()!.n;
      if (sessions > this.maxSessions) this.q.trimSessions.run(sessions - this.maxSessions);
      const tokens = this.q.tokenCount.get()!.n;
      if (tokens > this.maxTokenIds) this.q.trimTokens.run(tokens - this.maxTokenIds);
    })();
  }

  /** The ordering-session memory the hook handlers use. */
  readonly sessions: SessionMemory = {
    said: (key: SessionKey): ReadonlySet<string> => new Set(this.q.said.all(sessionId(key), this.now()).map((r) => r.item)),
    record: (key: SessionKey, items: Iterable<string>): void => {
      const now = this.now();
      const id = sessionId(key);
      const expires = now + this.ttlMs;
      this.db.transaction(() => {
        // An expired session starts afresh, as in the in-memory store.
        this.q.forget.run(id, now);
        this.q.touch.run(expires, id);
        for (const item of items) this.q.add.run(id, item, expires);
      })();
      this.sweep(now);
    },
  };

  /** The JWT replay memory the authenticator uses. */
  readonly replay: ReplayStore = {
    checkAndRemember: (key: string, expiresAt: number): boolean => {
      const now = this.now();
      const fresh = this.q.seen.run(key, expiresAt, now).changes > 0;
      this.sweep(now);
      return fresh;
    },
  };

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
