// Data stages of retraining: bulk export (or an existing folder), a shuffle of every NDJSON file into patient
// partitions (one task per file), history building per partition (one task per partition), and the merge into one
// training set. Files and partitions are the units that spread over workers.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import type { StageImpl } from './engine.ts';
import type { ExportLevel } from '../bulk/events.ts';
import type { DatasetRecord, DatasetSummary } from '../dataset/types.ts';

export interface BulkSourceParams {
  kind: 'bulk';
  baseUrl: string;
  level: ExportLevel;
  groupId?: string;
  types?: string[];
  since?: string;
  typeFilters?: string[];
  /** SMART Backend Services; without it the export runs unauthenticated. */
  auth?: { tokenUrl: string; clientId: string; keyFile: string; scope?: string };
  /** Distinguishes exports of the same parameters at different times (a run id or date). */
  snapshot: string;
}

export interface FolderSourceParams {
  kind: 'folder';
  path: string;
  /** Names, sizes and modification times: a changed folder gets new artifacts. */
  fingerprint: string;
}

export interface SourceOutput {
  /** Absolute folder holding the NDJSON files (the artifact folder for exports). */
  folder?: string;
  files: string[];
  lines: number;
}

export async function folderFingerprint(path: string): Promise<string> {
  const names = (await readdir(path)).filter((n) => /\.ndjson(\.gz)?$/.test(n)).sort();
  const hash = createHash('sha256');
  for (const n of names) {
    const s = await stat(join(path, n));
    hash.update(`${n}:${s.size}:${Math.round(s.mtimeMs)}\n`);
  }
  return hash.digest('hex').slice(0, 24);
}

export const exportStage: StageImpl<BulkSourceParams, SourceOutput> = {
  name: 'export',
  version: 1,
  async run(params, _inputs, ctx) {
    const { BulkDataClient } = await import('../bulk/client.ts');
    const { BackendServicesAuth } = await import('../bulk/backend-auth.ts');
    let auth;
    if (params.auth) {
      const key = JSON.parse(await readFile(params.auth.keyFile, 'utf8')) as JWK;
      auth = new BackendServicesAuth({ tokenUrl: params.auth.tokenUrl, clientId: params.auth.clientId, privateKey: key, scope: params.auth.scope ?? 'system/*.read' });
    }
    let downloaded = 0;
    let total = 0;
    const client = new BulkDataClient({
      baseUrl: params.baseUrl,
      ...(auth ? { auth } : {}),
      onEvent: (e) => {
        if (e.type === 'manifest') total = e.files;
        if (e.type === 'status') ctx.progress(0.05, `export ${e.progress ?? 'in progress'}`);
        if (e.type === 'download-end') ctx.progress(0.1 + (0.9 * ++downloaded) / Math.max(1, total), `downloaded ${downloaded}/${total} files`);
      },
    });
    const result = await client.export(
      { level: params.level, ...(params.groupId ? { groupId: params.groupId } : {}), ...(params.types ? { types: params.types } : {}), ...(params.since ? { since: params.since } : {}), ...(params.typeFilters ? { typeFilters: params.typeFilters } : {}) },
      ctx.dir,
      ctx.signal,
    );
    return { files: result.files.map((f) => basename(f.path)), lines: result.files.reduce((s, f) => s + f.lines, 0) };
  },
};

export const folderStage: StageImpl<FolderSourceParams, SourceOutput> = {
  name: 'import-folder',
  version: 1,
  async run(params) {
    const folder = resolve(params.path);
    const files = (await readdir(folder)).filter((n) => /\.ndjson(\.gz)?$/.test(n)).sort();
    if (files.length === 0) throw new Error(`${folder}: no .ndjson or .ndjson.gz files`);
    return { folder, files, lines: -1 };
  },
};

export interface PartitionParams {
  item: string;
  partitions: number;
}

export interface PartitionOutput {
  file: string;
  lines: number;
  /** Lines per partition; `medications.ndjson` holds Medication resources, which every partition needs. */
  counts: number[];
  medications: number;
  /** Lines that could not be routed (not JSON, no patient), with where they were. */
  unrouted: number;
  examples: string[];
}

/** Partition of a patient id: stable across runs and machines. */
export function partitionOf(patientId: string, partitions: number): number {
  return createHash('md5').update(patientId).digest().readUInt32BE(0) % partitions;
}

function patientOf(resource: Record<string, unknown>): string | undefined {
  if (resource.resourceType === 'Patient') return typeof resource.id === 'string' ? resource.id : undefined;
  const ref = ((resource.subject ?? resource.patient) as { reference?: unknown } | undefined)?.reference;
  if (typeof ref !== 'string') return undefined;
  const i = ref.lastIndexOf('Patient/');
  return i >= 0 ? ref.slice(i + 8) : undefined;
}

async function writeAll(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((r) => stream.once('drain', () => r()));
}

async function endAll(streams: WriteStream[]): Promise<void> {
  await Promise.all(streams.map((s) => new Promise<void>((r, j) => {
    s.once('error', j);
    s.end(() => r());
  })));
}

export const partitionStage: StageImpl<PartitionParams, PartitionOutput> = {
  name: 'partition',
  version: 1,
  async run(params, inputs, ctx) {
    const source = inputs.source!;
    const folder = (source.output as SourceOutput).folder ?? source.ref.dir;
    const path = join(folder, params.item);
    const size = (await stat(path)).size;
    const outs = Array.from({ length: params.partitions }, (_, i) => createWriteStream(join(ctx.dir, `part-${i}.ndjson`)));
    const meds = createWriteStream(join(ctx.dir, 'medications.ndjson'));
    const counts = new Array<number>(params.partitions).fill(0);
    let lines = 0;
    let medications = 0;
    let unrouted = 0;
    const examples: string[] = [];
    let bytes = 0;
    const raw = createReadStream(path);
    raw.on('data', (c) => (bytes += c.length));
    const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lines++;
      if (line.trim() === '') continue;
      let resource: Record<string, unknown>;
      try {
        resource = JSON.parse(line) as Record<string, unknown>;
      } catch {
        unrouted++;
        if (examples.length < 5) examples.push(`${params.item}:${lines}: not JSON`);
        continue;
      }
      if (resource.resourceType === 'Medication') {
        medications++;
        await writeAll(meds, line + '\n');
        continue;
      }
      const patient = patientOf(resource);
      if (!patient) {
        unrouted++;
        if (examples.length < 5) examples.push(`${params.item}:${lines}: ${String(resource.resourceType)} without a patient reference`);
        continue;
      }
      const p = partitionOf(patient, params.partitions);
      counts[p]!++;
      await writeAll(outs[p]!, line + '\n');
      if (lines % 20_000 === 0) ctx.progress(Math.min(0.99, bytes / size));
    }
    await endAll([...outs, meds]);
    ctx.progress(1);
    return { file: params.item, lines, counts, medications, unrouted, examples };
  },
};

export interface BuildShardParams {
  item: number;
  mapping: string;
  mappingHash: string;
  conceptMaps?: Record<string, string>;
}

export interface BuildShardOutput {
  partition: number;
  records: number;
  patients: number;
  skipped: Record<string, number>;
  issues: number;
  issueExamples: string[];
}

export const buildShardStage: StageImpl<BuildShardParams, BuildShardOutput> = {
  name: 'build-shard',
  version: 1,
  async run(params, inputs, ctx) {
    const { loadMapping } = await import('../mapping/load.ts');
    const { readBulk } = await import('../fhir/bulk-reader.ts');
    const { collectNames, recordsFromHistory } = await import('../dataset/records.ts');
    const mapping = await loadMapping(params.mapping, params.conceptMaps ? { conceptMaps: params.conceptMaps } : undefined);
    // The reader takes a folder: link this partition's piece of every file into one.
    const folder = join(ctx.dir, 'input');
    await mkdir(folder);
    const parts = Object.entries(inputs).filter(([name]) => name.startsWith('parts'));
    for (const [name, part] of parts) {
      const i = name.split('.')[1] ?? '0';
      await symlink(join(part.ref.dir, `part-${params.item}.ndjson`), join(folder, `${i}-part.ndjson`));
      await symlink(join(part.ref.dir, 'medications.ndjson'), join(folder, `${i}-medications.ndjson`));
    }
    const read = await readBulk(folder, { mapping, onProgress: (e) => e.type === 'progress' && ctx.progress(Math.min(0.9, e.totalBytesRead / Math.max(1, e.totalBytes))) });
    const names = new Map<string, string>();
    const skipped: Record<string, number> = {};
    const out = createWriteStream(join(ctx.dir, 'records.jsonl'));
    let records = 0;
    let patients = 0;
    for (const history of read.histories()) {
      patients++;
      collectNames(history, mapping, names);
      for (const record of recordsFromHistory(history, mapping, skipped)) {
        records++;
        await writeAll(out, JSON.stringify(record) + '\n');
      }
    }
    await endAll([out]);
    await writeFile(join(ctx.dir, 'names.json'), JSON.stringify(Object.fromEntries(names)));
    // The links point into other artifacts; the shard keeps only what it made.
    const { rm } = await import('node:fs/promises');
    await rm(folder, { recursive: true, force: true });
    ctx.progress(1);
    return { partition: params.item, records, patients, skipped, issues: read.issues.count(), issueExamples: read.issues.format().slice(0, 10) };
  },
};

export interface MergeParams {
  mapping: string;
  mappingHash: string;
  labelSpace: string;
  createdAt: string;
}

export interface MergeOutput {
  file: string;
  summary: DatasetSummary;
  issues: number;
}

export const mergeDatasetStage: StageImpl<MergeParams, MergeOutput> = {
  name: 'merge-dataset',
  version: 1,
  async run(params, inputs, ctx) {
    const { DatasetWriter } = await import('../dataset/io.ts');
    const shards = Object.entries(inputs)
      .filter(([name]) => name.startsWith('shards'))
      .sort(([a], [b]) => Number(a.split('.')[1] ?? 0) - Number(b.split('.')[1] ?? 0));
    const writer = await DatasetWriter.open(join(ctx.dir, 'dataset.jsonl'), { mapping: params.mapping, labelSpace: params.labelSpace, createdAt: params.createdAt });
    const names: Record<string, string> = {};
    const skipped: Record<string, number> = {};
    let issues = 0;
    for (const [, shard] of shards) {
      const out = shard.output as BuildShardOutput;
      issues += out.issues;
      for (const [k, v] of Object.entries(out.skipped)) skipped[k] = (skipped[k] ?? 0) + v;
      Object.assign(names, JSON.parse(await readFile(join(shard.ref.dir, 'names.json'), 'utf8')) as Record<string, string>);
      for await (const line of createInterface({ input: createReadStream(join(shard.ref.dir, 'records.jsonl')), crlfDelay: Infinity })) {
        if (line) await writer.write(JSON.parse(line) as DatasetRecord);
      }
    }
    const summary = await writer.close(names, skipped);
    return { file: 'dataset.jsonl', summary, issues };
  },
};
