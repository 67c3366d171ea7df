// Synthetic cohort generation: an in-memory patient stream, and a streaming bulk-export-style NDJSON writer.
import { once } from 'node:events';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { simulatePatient } from './clinical.ts';
import { toFhir, type PatientResources } from './fhir.ts';
import { Rng, streamSeed } from './random.ts';

export interface GenerateOptions {
  seed: number;
  patients: number;
  /** Upper bound on encounters per patient (default 20). */
  maxEncounters?: number;
  /** First patient index (to generate a slice of a cohort); default 0. */
  start?: number;
}

export const DEFAULT_MAX_ENCOUNTERS = 20;

/** Resource types written, in file order. */
export const RESOURCE_TYPES = ['Patient', 'Encounter', 'Condition', 'Procedure', 'Medication', 'MedicationRequest'] as const;
export type SynthResourceType = (typeof RESOURCE_TYPES)[number];

function checkOptions(o: GenerateOptions): void {
  if (!Number.isSafeInteger(o.seed)) throw new RangeError(`seed must be an integer, got ${o.seed}`);
  if (!Number.isSafeInteger(o.patients) || o.patients < 0) throw new RangeError(`patients must be a non-negative integer, got ${o.patients}`);
  const max = o.maxEncounters ?? DEFAULT_MAX_ENCOUNTERS;
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxEncounters must be a positive integer, got ${max}`);
}

/**
 * Patient n of a cohort depends only on (seed, n): each patient draws from its own stream, so a slice or a
 * single patient can be generated without the rest.
 */
export function* generatePatients(options: GenerateOptions): Generator<PatientResources> {
  checkOptions(options);
  const max = options.maxEncounters ?? DEFAULT_MAX_ENCOUNTERS;
  const first = options.start ?? 0;
  const prefix = `s${options.seed}-`;
  for (let i = first; i < first + options.patients; i++) {
    const rng = new Rng(streamSeed(options.seed, i));
    const sim = simulatePatient(rng, i, max);
    yield toFhir(sim, prefix, rng);
  }
}

export interface WriteOptions extends GenerateOptions {
  out: string;
  gzip?: boolean;
  /** Called after each patient (for progress bars). */
  onPatient?: (done: number) => void;
}

export interface GenerationSummary {
  generator: 'leader-cds synth';
  version: 1;
  seed: number;
  patients: number;
  maxEncounters: number;
  gzip: boolean;
  counts: Record<SynthResourceType, number>;
  files: string[];
}

class NdjsonSink {
  private buffer = '';
  private readonly stream: Writable;
  private readonly done: Promise<void>;

  constructor(path: string, gzip: boolean) {
    const file = createWriteStream(path);
    if (gzip) {
      const z = createGzip();
      z.pipe(file);
      this.stream = z;
    } else this.stream = file;
    this.done = new Promise((resolve, reject) => {
      file.on('close', resolve);
      file.on('error', reject);
      this.stream.on('error', reject);
    });
  }

  async add(line: string): Promise<void> {
    this.buffer += line + '\n';
    if (this.buffer.length >= 1 << 20) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer;
    this.buffer = '';
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await this.done;
  }
}

/** Writes `<Type>.000.ndjson[.gz]` per resource type plus `generation.json`; memory stays flat in the cohort size. */
export async function writeCohort(options: WriteOptions): Promise<GenerationSummary> {
  checkOptions(options);
  mkdirSync(options.out, { recursive: true });
  const gzip = options.gzip ?? false;
  const files: string[] = [];
  const sinks = {} as Record<SynthResourceType, NdjsonSink>;
  const counts = {} as Record<SynthResourceType, number>;
  for (const type of RESOURCE_TYPES) {
    const name = `${type}.000.ndjson${gzip ? '.gz' : ''}`;
    files.push(name);
    sinks[type] = new NdjsonSink(join(options.out, name), gzip);
    counts[type] = 0;
  }
  let done = 0;
  try {
    for (const { resources } of generatePatients(options)) {
      for (const r of resources) {
        const type = r.resourceType as SynthResourceType;
        const sink = sinks[type];
        if (!sink) throw new Error(`generator produced an unexpected resource type ${r.resourceType}`);
        counts[type]++;
        await sink.add(JSON.stringify(r));
      }
      options.onPatient?.(++done);
    }
  } finally {
    await Promise.all(RESOURCE_TYPES.map((t) => sinks[t].close()));
  }
  const summary: GenerationSummary = {
    generator: 'leader-cds synth',
    version: 1,
    seed: options.seed,
    patients: options.patients,
    maxEncounters: options.maxEncounters ?? DEFAULT_MAX_ENCOUNTERS,
    gzip,
    counts,
    files,
  };
  writeFileSync(join(options.out, 'generation.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
