// Inference runtime: a model directory on onnxruntime-node. Validates the manifest against the session,
// encodes patient histories, batches all given records into one run, reports unrecognised codes.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { DatasetRecord } from '../../dataset/types.ts';
import { CodeMap, CodeMapError, type AppliedSubstitution } from './code-map.ts';
import { INPUT_NAMES } from '../contract.ts';
import { Encoder, type EncodedBatch, type IndexTensor, type PackedSets, type UnknownCode } from '../student/encode.ts';
import { VocabIndex } from '../student/vocab.ts';
import { ModelLoadError } from './errors.ts';
import type { ModelManifest, TensorSpec } from './manifest.ts';
import { readModelDir, type ModelFiles } from './model-dir.ts';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface LoadOptions {
  /** `auto` tries CUDA and falls back to CPU. */
  provider?: ExecutionProvider | 'auto';
  /** Intra-op threads; 1 keeps per-request latency low and leaves cores to concurrent requests. */
  threads?: number;
  /** Unseen codes read as known ones (the model directory's code-map.json; `load` reads it). */
  codeMap?: CodeMap;
  /** Run identical code sets of a batch once (default true; false only to measure what sharing saves). */
  shareSets?: boolean;
}

/** `substitutions`: codes the model never saw, read as the known code the model directory's code map gives (present when any). */
export type Prediction =
  | { status: 'ok'; probabilities: Float32Array; unknown: UnknownCode[]; substitutions?: AppliedSubstitution[] }
  | { status: 'no-recommendation'; reason: string; unknown: UnknownCode[]; substitutions?: AppliedSubstitution[] };

export interface RankedLabel {
  label: string;
  name?: string;
  probability: number;
  threshold: number;
  orderable?: { system: string; code: string; display: string };
}

type InputName = (typeof INPUT_NAMES)[number];

const NO_KNOWN_CODE = 'no diagnosis, procedure or medication-history code of this patient is in the model vocabulary';

function sameShape(a: ReadonlyArray<number | string>, b: ReadonlyArray<number | string>): boolean {
  return a.length === b.length && a.every((x, i) => (typeof x === 'number' ? x === b[i] : typeof b[i] === 'string'));
}

function checkSignature(kind: 'input' | 'output', meta: readonly ort.InferenceSession.ValueMetadata[], specs: readonly TensorSpec[], dir: string): void {
  const names = meta.map((m) => m.name).sort();
  const expected = specs.map((s) => s.name).sort();
  if (names.join() !== expected.join())
    throw new ModelLoadError(`${dir}: model.onnx ${kind}s [${names.join(', ')}] do not match the manifest's [${expected.join(', ')}]`);
  for (const s of specs) {
    const m = meta.find((x) => x.name === s.name)!;
    if (!m.isTensor) throw new ModelLoadError(`${dir}: model.onnx ${kind} ${s.name} is not a tensor`);
    const type = m.type === 'float32' ? 'float32' : m.type;
    if (type !== s.type || !sameShape(m.shape, s.shape))
      throw new ModelLoadError(
        `${dir}: model.onnx ${kind} ${s.name} is ${m.type}[${m.shape.join(', ')}], the manifest says ${s.type}[${s.shape.join(', ')}]`,
      );
  }
}

const require = createRequire(import.meta.url);

/** The CUDA provider library next to onnxruntime-node's binding, when installed (the npm package ships CPU only). */
function cudaProviderLibrary(): string | undefined {
  try {
    const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const dir = path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
    const names = process.platform === 'win32' ? ['onnxruntime_providers_cuda.dll'] : ['libonnxruntime_providers_cuda.so'];
    return names.map((n) => path.join(dir, n)).find((f) => existsSync(f));
  } catch {
    return undefined;
  }
}

async function createSession(bytes: Uint8Array, options: LoadOptions, dir: string): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider; fallback?: string }> {
  const threads = options.threads ?? 1;
  const base: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  const want = options.provider ?? 'auto';
  let fallback: string | undefined;
  const cudaLibrary = cudaProviderLibrary();
  if (want === 'auto' && !cudaLibrary) fallback = 'CUDA unavailable (onnxruntime-node has no CUDA provider library installed)';
  else if (want === 'cuda' || want === 'auto') {
    try {
      // Fatal-only logging: on machines without CUDA the failed attempt is expected, and reported via `fallback`.
      return { session: await ort.InferenceSession.create(bytes, { ...base, logSeverityLevel: 4, executionProviders: ['cuda'] }), provider: 'cuda' };
    } catch (err) {
      if (want === 'cuda') throw new ModelLoadError(`${dir}: the CUDA execution provider is not available: ${(err as Error).message}`);
      fallback = `CUDA unavailable (${(err as Error).message.split('\n')[0]})`;
    }
  }
  try {
    return { session: await ort.InferenceSession.create(bytes, { ...base, executionProviders: ['cpu'] }), provider: 'cpu', ...(fallback ? { fallback } : {}) };
  } catch (err) {
    throw new ModelLoadError(`${dir}: onnxruntime cannot load model.onnx: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * The same packed batch with identical code sets stored once and slots pointing at the shared row. The per-set
 * transformer treats every row on its own, so the output is unchanged; its cost falls from one run per set to one
 * per distinct set, which is most of the work when a batch holds near-copies of a record (occlusion variants).
 */
export function shareIdenticalSets(p: PackedSets): PackedSets {
  const [rows, width] = p.codes.shape as [number, number];
  const src = p.codes.data;
  const rowOf = new Map<string, number>();
  const remap = new Int32Array(rows);
  const keep: number[] = [0];
  for (let r = 1; r < rows; r++) {
    const key = src.subarray(r * width, (r + 1) * width).join(',');
    let to = rowOf.get(key);
    if (to === undefined) {
      to = keep.length;
      keep.push(r);
      rowOf.set(key, to);
    }
    remap[r] = to;
  }
  if (keep.length === rows) return p;
  const codes = new Int32Array(keep.length * width);
  keep.forEach((r, i) => codes.set(src.subarray(r * width, (r + 1) * width), i * width));
  const slots = new Int32Array(p.slots.data.length);
  for (let i = 0; i < slots.length; i++) slots[i] = remap[p.slots.data[i]!]!;
  return { codes: { data: codes, shape: [keep.length, width] }, slots: { data: slots, shape: [...p.slots.shape] } };
}

export class StudentRuntime {
  readonly encoder: Encoder;
  private readonly labelCount: number;
  private bigints: BigInt64Array;
  private readonly buffers = new Map<InputName, BigInt64Array>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    private readonly session: ort.InferenceSession,
    readonly provider: ExecutionProvider,
    readonly providerFallback: string | undefined,
    readonly codeMap: CodeMap | undefined,
    private readonly shareSets: boolean,
  ) {
    this.encoder = new Encoder(new VocabIndex(manifest.vocabularies), manifest.config);
    this.labelCount = manifest.vocabularies.labels.length;
    // Index -> BigInt lookup so that filling int64 inputs allocates nothing.
    const sizes = this.encoder.vocab.sizes;
    const largest = Math.max(sizes.diagnoses, sizes.procedures, sizes.medications, ...sizes.profile);
    this.bigints = BigInt64Array.from({ length: largest }, (_, i) => BigInt(i));
  }

  static async load(dir: string, options: LoadOptions = {}): Promise<StudentRuntime> {
    const files = await readModelDir(dir);
    let codeMap = options.codeMap;
    try {
      const v = files.manifest.vocabularies;
      codeMap ??= await CodeMap.readFromDir(dir, { modelVersion: files.manifest.modelVersion, diagnoses: v.diagnoses, procedures: v.procedures });
    } catch (err) {
      if (err instanceof CodeMapError) throw new ModelLoadError(err.message);
      throw err;
    }
    return StudentRuntime.fromFiles(files, { ...options, ...(codeMap ? { codeMap } : {}) });
  }

  /** A runtime over model files already in memory (validated manifest and ONNX bytes). */
  static async fromFiles(files: ModelFiles, options: LoadOptions = {}): Promise<StudentRuntime> {
    const dir = files.dir;
    const { session, provider, fallback } = await createSession(files.onnx, options, dir);
    try {
      checkSignature('input', session.inputMetadata, files.manifest.onnx.inputs, dir);
      checkSignature('output', session.outputMetadata, files.manifest.onnx.outputs, dir);
    } catch (err) {
      await session.release();
      throw err;
    }
    return new StudentRuntime(dir, files.manifest, session, provider, fallback, options.codeMap, options.shareSets ?? true);
  }

  get labels(): readonly string[] {
    return this.manifest.vocabularies.labels;
  }

  private tensor(name: InputName, t: IndexTensor): ort.Tensor {
    let buf = this.buffers.get(name);
    if (!buf || buf.length < t.data.length) this.buffers.set(name, (buf = new BigInt64Array(Math.max(t.data.length, (buf?.length ?? 0) * 2))));
    const view = buf.subarray(0, t.data.length);
    const src = t.data;
    // Slot indices grow with the batch: widen the lookup table when needed.
    let top = 0;
    for (let i = 0; i < src.length; i++) if (src[i]! > top) top = src[i]!;
    if (top >= this.bigints.length) this.bigints = BigInt64Array.from({ length: Math.max(top + 1, this.bigints.length * 2) }, (_, i) => BigInt(i));
    const big = this.bigints;
    for (let i = 0; i < src.length; i++) view[i] = big[src[i]!]!;
    return new ort.Tensor('int64', view, t.shape);
  }

  private feeds(b: EncodedBatch): Record<InputName, ort.Tensor> {
    return {
      diagnosis_codes: this.tensor('diagnosis_codes', b.diagnoses.codes),
      diagnosis_slots: this.tensor('diagnosis_slots', b.diagnoses.slots),
      procedure_codes: this.tensor('procedure_codes', b.procedures.codes),
      procedure_slots: this.tensor('procedure_slots', b.procedures.slots),
      medication_codes: this.tensor('medication_codes', b.medications.codes),
      medication_slots: this.tensor('medication_slots', b.medications.slots),
      profile: this.tensor('profile', b.profile),
    };
  }

  /** Probabilities for every record, in one session run; records without any known code get no recommendation. */
  predict(records: readonly DatasetRecord[]): Promise<Prediction[]> {
    // Encoder and input buffers are reused: run one call at a time.
    const run = this.queue.then(() => this.predictNow(records));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async predictNow(given: readonly DatasetRecord[]): Promise<Prediction[]> {
    if (given.length === 0) return [];
    // Unseen codes the code map knows are read as their known neighbour, and each replacement is reported.
    const mapped = this.codeMap ? given.map((r) => this.codeMap!.apply(r)) : undefined;
    const records = mapped ? mapped.map((m) => m.record) : given;
    const probe = this.encoder.encode(records);
    const usable = records.filter((_, i) => probe.known[i]);
    const results: Prediction[] = records.map((_, i) => ({ status: 'no-recommendation', reason: NO_KNOWN_CODE, unknown: probe.unknown[i]! }));
    if (usable.length === 0) return results;
    const batch = usable.length === records.length ? probe : this.encoder.encode(usable);
    const unknown = batch.unknown;
    const shared = this.shareSets
      ? { ...batch, diagnoses: shareIdenticalSets(batch.diagnoses), procedures: shareIdenticalSets(batch.procedures), medications: shareIdenticalSets(batch.medications) }
      : batch;
    const out = await this.session.run(this.feeds(shared), ['probabilities']);
    const probs = out.probabilities!.data as Float32Array;
    let k = 0;
    records.forEach((_, i) => {
      if (!probe.known[i]) return;
      results[i] = { status: 'ok', probabilities: probs.slice(k * this.labelCount, (k + 1) * this.labelCount), unknown: unknown[k]! };
      k++;
    });
    mapped?.forEach((m, i) => {
      if (m.substitutions.length) results[i]!.substitutions = m.substitutions;
    });
    return results;
  }

  /** Both outputs for a batch (golden tests and checks); no filtering of records without known codes. */
  async runRaw(records: readonly DatasetRecord[], pad: 'batch' | 'full' = 'batch'): Promise<{ probabilities: Float32Array; feature: Float32Array }> {
    const run = this.queue.then(async () => {
      const batch = this.encoder.encode(records, { pad });
      const out = await this.session.run(this.feeds(batch));
      return { probabilities: out.probabilities!.data as Float32Array, feature: out.feature!.data as Float32Array };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  threshold(label: string): number {
    return this.manifest.thresholds.perLabel[label] ?? this.manifest.thresholds.default;
  }

  /** Labels by decreasing probability, with names and orderables from the manifest's label catalog. */
  rank(probabilities: Float32Array, top = Infinity): RankedLabel[] {
    const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
    return order.slice(0, top).map((i) => {
      const label = this.labels[i]!;
      const entry = this.manifest.labelCatalog[label];
      return {
        label,
        ...(entry?.name ? { name: entry.name } : {}),
        probability: probabilities[i]!,
        threshold: this.threshold(label),
        ...(entry?.orderable ? { orderable: entry.orderable } : {}),
      };
    });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.session.release();
  }
}
