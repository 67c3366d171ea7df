// Dataset files: JSON lines of a header, the records, the names and a summary (see types.ts), written as a stream.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { Dataset, DatasetHeader, DatasetNames, DatasetRecord, DatasetSummary } from './types.ts';

/** A dataset file that cannot be read: names the file and the line. */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    detail: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${detail}`);
    this.name = 'DatasetError';
  }
}

/** Streams records to a file and computes the summary (counts, label frequencies, fingerprint) on the way. */
export class DatasetWriter {
  private readonly out: WriteStream;
  private readonly hash = createHash('sha256');
  private readonly patientVisits = new Map<string, number>();
  private readonly labelFrequencies = new Map<string, number>();
  private records = 0;
  private failure: Error | undefined;

  private constructor(readonly path: string) {
    this.out = createWriteStream(path, { encoding: 'utf8' });
    this.out.on('error', (err) => {
      this.failure = err;
    });
  }

  static async open(path: string, header: Omit<DatasetHeader, 'type' | 'format' | 'version' | 'createdAt'> & { createdAt?: string }): Promise<DatasetWriter> {
    const writer = new DatasetWriter(path);
    // Fail here, naming the path, rather than after the whole input has been read.
    await new Promise<void>((resolve, reject) => {
      writer.out.once('ready', () => resolve());
      writer.out.once('error', (err) => reject(new DatasetError(path, undefined, `cannot write: ${err.message}`)));
    });
    const line: DatasetHeader = {
      type: 'header',
      format: 'leader-dataset',
      version: 1,
      mapping: header.mapping,
      ...(header.mappingFingerprint ? { mappingFingerprint: header.mappingFingerprint } : {}),
      labelSpace: header.labelSpace,
      createdAt: header.createdAt ?? new Date().toISOString(),
    };
    await writer.writeLine(JSON.stringify(line));
    return writer;
  }

  private async writeLine(text: string): Promise<void> {
    if (this.failure) throw new DatasetError(this.path, undefined, `cannot write: ${this.failure.message}`);
    if (!this.out.write(`${text}\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.out.off('drain', done);
          this.out.off('error', done);
          resolve();
        };
        this.out.on('drain', done);
        this.out.on('error', done);
      });
      const failure = this.failure as Error | undefined;
      if (failure) throw new DatasetError(this.path, undefined, `cannot write: ${failure.message}`);
    }
  }

  async write(record: DatasetRecord): Promise<void> {
    const text = JSON.stringify({ type: 'record', ...record });
    this.hash.update(text);
    this.hash.update('\n');
    this.records++;
    this.patientVisits.set(record.patientId, record.patientVisits);
    for (const label of record.labels) this.labelFrequencies.set(label, (this.labelFrequencies.get(label) ?? 0) + 1);
    await this.writeLine(text);
  }

  /** Writes the names and summary lines and closes the file. */
  async close(names: ReadonlyMap<string, string> | Record<string, string>, skippedEncounters: Record<string, number> = {}): Promise<DatasetSummary> {
    const namesLine: DatasetNames = {
      type: 'names',
      names: Object.fromEntries([...(names instanceof Map ? names : Object.entries(names))].sort((a, b) => (a[0] < b[0] ? -1 : 1))),
    };
    let single = 0;
    for (const visits of this.patientVisits.values()) if (visits === 1) single++;
    const summary: DatasetSummary = {
      type: 'summary',
      patients: this.patientVisits.size,
      encounters: this.records,
      singleEncounterPatients: single,
      multiEncounterPatients: this.patientVisits.size - single,
      skippedEncounters: { ...skippedEncounters },
      labelFrequencies: Object.fromEntries([...this.labelFrequencies].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
      fingerprint: this.hash.digest('hex'),
    };
    await this.writeLine(JSON.stringify(namesLine));
    await this.writeLine(JSON.stringify(summary));
    await new Promise<void>((resolve) => {
      if (this.failure) return resolve();
      this.out.once('error', () => resolve());
      this.out.end(() => resolve());
    });
    const failure = this.failure as Error | undefined;
    if (failure) throw new DatasetError(this.path, undefined, `cannot write: ${failure.message}`);
    return summary;
  }
}

export async function writeDataset(
  path: string,
  header: { mapping: string; mappingFingerprint?: string; labelSpace: string; createdAt?: string },
  records: Iterable<DatasetRecord> | AsyncIterable<DatasetRecord>,
  names: ReadonlyMap<string, string> | Record<string, string>,
  skippedEncounters: Record<string, number> = {},
): Promise<DatasetSummary> {
  const writer = await DatasetWriter.open(path, header);
  for await (const record of records) await writer.write(record);
  return writer.close(names, skippedEncounters);
}

const strings = z.array(z.string());
const HeaderLine = z.object({
  type: z.literal('header'),
  format: z.literal('leader-dataset'),
  version: z.literal(1),
  mapping: z.string(),
  mappingFingerprint: z.string().optional(),
  labelSpace: z.string(),
  createdAt: z.string(),
});
const RecordLine = z.object({
  type: z.literal('record'),
  patientId: z.string().min(1),
  encounterId: z.string().min(1),
  visitIndex: z.number().int().nonnegative(),
  patientVisits: z.number().int().positive(),
  start: z.string(),
  profile: z.record(z.string(), z.string()),
  history: z.array(
    z.object({ encounterId: z.string(), start: z.string(), diagnoses: strings, procedures: strings, medications: strings }),
  ),
  diagnoses: strings,
  procedures: strings,
  labels: strings,
});
const NamesLine = z.object({ type: z.literal('names'), names: z.record(z.string(), z.string()) });
const SummaryLine = z.object({
  type: z.literal('summary'),
  patients: z.number().int().nonnegative(),
  encounters: z.number().int().nonnegative(),
  singleEncounterPatients: z.number().int().nonnegative(),
  multiEncounterPatients: z.number().int().nonnegative(),
  skippedEncounters: z.record(z.string(), z.number()),
  labelFrequencies: z.record(z.string(), z.number()),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
});

function issueText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; ');
}

export async function readDataset(path: string): Promise<Dataset> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    throw new DatasetError(path, undefined, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message);
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  const hash = createHash('sha256');
  let header: DatasetHeader | undefined;
  let names: DatasetNames | undefined;
  let summary: DatasetSummary | undefined;
  const records: DatasetRecord[] = [];
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new DatasetError(path, n, `not JSON: ${(err as Error).message}`);
    }
    const type = (value as { type?: unknown } | null)?.type;
    if (!header) {
      const parsed = HeaderLine.safeParse(value);
      if (!parsed.success) throw new DatasetError(path, n, `expected the leader-dataset header line: ${issueText(parsed.error)}`);
      header = parsed.data;
      continue;
    }
    if (summary) throw new DatasetError(path, n, 'content after the summary line');
    if (type === 'record') {
      if (names) throw new DatasetError(path, n, 'record after the names line');
      const parsed = RecordLine.safeParse(value);
      if (!parsed.success) throw new DatasetError(path, n, `invalid record: ${issueText(parsed.error)}`);
      hash.update(text);
      hash.update('\n');
      const { type: _type, ...record } = parsed.data;
      records.push(record);
    } else if (type === 'names') {
      const parsed = NamesLine.safeParse(value);
      if (!parsed.success) throw new DatasetError(path, n, `invalid names line: ${issueText(parsed.error)}`);
      names = parsed.data;
    } else if (type === 'summary') {
      const parsed = SummaryLine.safeParse(value);
      if (!parsed.success) throw new DatasetError(path, n, `invalid summary line: ${issueText(parsed.error)}`);
      summary = parsed.data;
    } else {
      throw new DatasetError(path, n, `unknown line type ${JSON.stringify(type)}`);
    }
  }
  if (!header) throw new DatasetError(path, undefined, 'empty file (no header line)');
  if (!names) throw new DatasetError(path, n, 'truncated: no names line');
  if (!summary) throw new DatasetError(path, n, 'truncated: no summary line');
  const fingerprint = hash.digest('hex');
  if (fingerprint !== summary.fingerprint) {
    throw new DatasetError(path, undefined, `records do not match the summary fingerprint (${fingerprint} != ${summary.fingerprint}): the file was altered or truncated`);
  }
  if (records.length !== summary.encounters) {
    throw new DatasetError(path, undefined, `${records.length} records but the summary says ${summary.encounters}`);
  }
  return { header, records, names: names.names, summary };
}
