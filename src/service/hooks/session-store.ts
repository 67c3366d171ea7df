// What the service already told a clinician in an ordering session, so order-sign does not repeat order-select.
// In memory, bounded in entries and time: losing it only means a card may be repeated.

export interface SessionKey {
  issuer?: string;
  patientId: string;
  encounterId?: string;
}

/** What the handlers need of a session memory: the in-memory store below, or the shared one (src/service/shared-state.ts). */
export interface SessionMemory {
  /** Items (e.g. `suggest:A02B`, `ddi:B01A|M01A`) already said in this session. */
  said(key: SessionKey): ReadonlySet<string>;
  record(key: SessionKey, items: Iterable<string>): void;
}

export function sessionId(key: SessionKey): string {
  return JSON.stringify([key.issuer ?? '', key.patientId, key.encounterId ?? '']);
}

export interface SessionStoreOptions {
  ttlMs?: number;
  maxSessions?: number;
  now?: () => number;
}

interface Entry {
  said: Set<string>;
  expires: number;
}

export class SessionStore implements SessionMemory {
  private readonly sessions = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? 4 * 60 * 60 * 1000;
    this.maxSessions = Math.max(1, options.maxSessions ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  private live(key: SessionKey): Entry | undefined {
    const id = sessionId(key);
    const entry = this.sessions.get(id);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return entry;
  }

  /** Items (e.g. `suggest:A02B`, `ddi:B01A|M01A`) already said in this session. */
  said(key: SessionKey): ReadonlySet<string> {
    return this.live(key)?.said ?? new Set();
  }

  record(key: SessionKey, items: Iterable<string>): void {
    const id = sessionId(key);
    const entry = this.live(key) ?? { said: new Set<string>(), expires: 0 };
    for (const item of items) entry.said.add(item);
    entry.expires = this.now() + this.ttlMs;
    // Re-insert so Map order is least-recently-used first.
    this.sessions.delete(id);
    this.sessions.set(id, entry);
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
  }

  get size(): number {
    return this.sessions.size;
  }
}
