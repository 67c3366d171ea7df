// Reader (b): a bulk-export folder of NDJSON / NDJSON.gz files -> patient histories.
// Streams each file line by line and keeps only compact facts grouped by patient, so memory follows
// what is kept, not file size. Resource types come from each line, never from file names.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { LoadedMapping } from '../mapping/types.ts';
import { assembleHistory, type OccurrenceSink } from '../history/assemble.ts';
import { emptyPatientFacts, type MedicationFact, type PatientFacts } from '../history/facts.ts';
import { IssueLog } from '../history/issues.ts';
import type { PatientHistory } from '../history/types.ts';
import { extractResource, Interner, type ExtractContext } from './extract.ts';
import { profileEvaluatorsFor } from './profile-fields.ts';

export type BulkProgress =
  | { type: 'start'; files: string[]; totalBytes: number }
  | { type: 'file-start'; file: string; bytes: number }
  | { type: 'progress'; file: string; lines: number; bytesRead: number; totalBytesRead: number; totalBytes: number }
  | { type: 'file-end'; file: string; lines: number; resources: number }
  | { type: 'done'; lines: number; resources: number; patients: number };

export interface BulkReadOptions {
  mapping: LoadedMapping;
  onProgress?: (event: BulkProgress) => void;
  /** Examples kept per issue kind. */
  maxExamples?: number;
  /** Gets every occurrence placed in a history (coverage). */
  sink?: OccurrenceSink;
  /** Lines between progress events. */
  progressEvery?: number;
}

/** The folder or a file cannot be read at all (as opposed to bad lines, which are counted issues). */
export class BulkReadError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(message);
    this.name = 'BulkReadError';
  }
}

export interface BulkStats {
  files: string[];
  lines: number;
  /** Resources read, by type (including unsupported ones). */
  resources: Record<string, number>;
  patients: number;
  medications: number;
}

export interface BulkRead {
  readonly stats: BulkStats;
  readonly issues: IssueLog;
  /** Assembles and yields each patient's history once, in patient id order (then forgets its facts). */
  histories(): Generator<PatientHistory>;
}

export async function listBulkFiles(dir: string): Promise<string[]> {
  const folder = resolve(dir);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BulkReadError(code === 'ENOENT' ? `${folder}: folder not found` : code === 'ENOTDIR' ? `${folder}: not a folder` : `${folder}: ${(err as Error).message}`, folder);
  }
  const files = names.filter((n) => n.endsWith('.ndjson') || n.endsWith('.ndjson.gz')).sort();
  if (files.length === 0) throw new BulkReadError(`${folder}: no .ndjson or .ndjson.gz files`, folder);
  return files.map((n) => join(folder, n));
}

export async function readBulk(dir: string, options: BulkReadOptions): Promise<BulkRead> {
  const files = await listBulkFiles(dir);
  const issues = new IssueLog(options.maxExamples ?? 5);
  const intern = new Interner();
  const profile = profileEvaluatorsFor(options.mapping);
  const patients = new Map<string, PatientFacts>();
  const medications = new Map<string, MedicationFact>();
  const resources: Record<string, number> = {};
  const every = options.progressEvery ?? 20_000;
  const emit = options.onProgress;
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  emit?.({ type: 'start', files, totalBytes });

  const bucket = (id: string): PatientFacts => {
    let found = patients.get(id);
    if (!found) {
      found = emptyPatientFacts(id);
      patients.set(id, found);
    }
    return found;
  };

  let totalLines = 0;
  let totalResources = 0;
  let bytesBefore = 0;
  for (const [index, file] of files.entries()) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    const ctx: ExtractContext = { file: name, line: 0, issues, profile, intern };
    emit?.({ type: 'file-start', file: name, bytes: sizes[index]! });
    const raw = createReadStream(file, { highWaterMark: 1 << 20 });
    let bytesRead = 0;
    raw.on('data', (chunk) => {
      bytesRead += chunk.length;
    });
    const input = file.endsWith('.gz') ? raw.pipe(createGunzip({ chunkSize: 1 << 20 })) : raw;
    if (input !== raw) raw.on('error', (err) => input.destroy(err));
    let line = 0;
    let fileResources = 0;
    const handle = (content: string): void => {
      line++;
      // Blank lines carry nothing; everything else is accounted for.
      if (content.length === 0 || (content.length < 3 && content.trim() === '')) return;
      ctx.line = line;
      let parsed: unknown;
      try {
        parsed = JSON.parse(content);
      } catch (err) {
        if (content.trim() === '') return;
        issues.add({ kind: 'malformed-json', file: name, line, message: (err as Error).message });
        return;
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        issues.add({ kind: 'malformed-json', file: name, line, message: 'line is JSON but not an object' });
        return;
      }
      fileResources++;
      const type = (parsed as { resourceType?: unknown }).resourceType;
      if (typeof type === 'string') resources[type] = (resources[type] ?? 0) + 1;
      const fact = extractResource(parsed as Record<string, unknown>, ctx);
      if (!fact) return;
      switch (fact.type) {
        case 'Medication':
          if (medications.has(fact.fact.id)) issues.add({ kind: 'duplicate-id', file: name, line, resource: `Medication/${fact.fact.id}`, field: 'id', message: 'Medication id seen before (first kept)' });
          else medications.set(fact.fact.id, fact.fact);
          return;
        case 'Patient': {
          const facts = bucket(fact.patientId);
          if (facts.patient) issues.add({ kind: 'duplicate-id', file: name, line, resource: `Patient/${fact.patientId}`, field: 'id', message: 'Patient id seen before (first kept)' });
          else facts.patient = fact.fact;
          return;
        }
        case 'Encounter':
          bucket(fact.patientId).encounters.push(fact.fact);
          return;
        case 'Condition':
        case 'Procedure':
          bucket(fact.patientId).coded.push(fact.fact);
          return;
        case 'MedicationRequest':
          bucket(fact.patientId).requests.push(fact.fact);
          return;
      }
    };
    // Lines are cut on bytes and decoded one by one: no decoder pass over whole chunks, no string concatenation.
    const lineOf = (buf: Buffer, start: number, nl: number): string => {
      const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
      return buf.toString('utf8', start, end);
    };
    try {
      let tail: Buffer | undefined;
      for await (const chunk of input as AsyncIterable<Buffer>) {
        let start = 0;
        let nl = chunk.indexOf(10);
        if (tail !== undefined) {
          if (nl === -1) {
            tail = Buffer.concat([tail, chunk]);
            continue;
          }
          const joined = Buffer.concat([tail, chunk.subarray(0, nl + 1)]);
          tail = undefined;
          handle(lineOf(joined, 0, joined.length - 1));
          start = nl + 1;
          nl = chunk.indexOf(10, start);
        }
        while (nl !== -1) {
          handle(lineOf(chunk, start, nl));
          start = nl + 1;
          if (emit && line % every === 0) {
            emit({ type: 'progress', file: name, lines: line, bytesRead, totalBytesRead: bytesBefore + bytesRead, totalBytes });
          }
          nl = chunk.indexOf(10, start);
        }
        if (start < chunk.length) tail = Buffer.from(chunk.subarray(start));
      }
      if (tail !== undefined && tail.length > 0) handle(lineOf(tail, 0, tail.length));
    } catch (err) {
      raw.destroy();
      throw new BulkReadError(`${file}: cannot read after line ${line}: ${(err as Error).message}`, file, line);
    }
    bytesBefore += sizes[index]!;
    totalLines += line;
    totalResources += fileResources;
    emit?.({ type: 'progress', file: name, lines: line, bytesRead: sizes[index]!, totalBytesRead: bytesBefore, totalBytes });
    emit?.({ type: 'file-end', file: name, lines: line, resources: fileResources });
  }
  emit?.({ type: 'done', lines: totalLines, resources: totalResources, patients: patients.size });

  const stats: BulkStats = { files, lines: totalLines, resources, patients: patients.size, medications: medications.size };
  let consumed = false;
  return {
    stats,
    issues,
    *histories() {
      if (consumed) throw new Error('histories() can be iterated once: facts are released as patients are assembled');
      consumed = true;
      const ids = [...patients.keys()].sort();
      const medication = (id: string) => medications.get(id);
      for (const id of ids) {
        const facts = patients.get(id)!;
        patients.delete(id);
        yield assembleHistory(facts, { mapping: options.mapping, issues, medication, ...(options.sink ? { sink: options.sink } : {}) });
      }
    },
  };
}
