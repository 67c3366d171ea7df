// The service's embedded SQLite files (feedback, state shared by workers): opened one way everywhere.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Opens (creating folder and schema when missing) a database several worker processes may write at once. */
export function openServiceDatabase(file: string, schema: string): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // A writer waits for another process's short transaction instead of failing with SQLITE_BUSY.
  db.pragma('busy_timeout = 2000');
  db.exec(schema);
  return db;
}
