// THE wiring point between the edge and the rest of leader-cds: mapping, model runtime, history builders and
// the hook handlers, bound to the edge's metrics and feedback store through the handlers' ports.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DatasetRecord } from '../dataset/types.ts';
import type { LoadedMapping } from '../mapping/types.ts';
import type { Prediction, StudentRuntime } from '../model/runtime/session.ts';
import type { CdsService } from './contracts.ts';
import type { LoadedModelServices } from './hot-swap.ts';
import type { ServiceConfig } from './config.ts';
import { cardLogPort } from './feedback/card-log.ts';
import type { FeedbackStore } from './feedback/store.ts';
import type { CodeSubstitution, HistoryBuilder, LabelInfo, MedicationModel, RecordScores } from './hooks/ports.ts';
import type { SessionMemory } from './hooks/session-store.ts';
import { hookMetricsPort } from './ops/hook-metrics.ts';
import { ScoreCache } from './score-cache.ts';
import { checkModelMapping, ModelMappingMismatch } from './model-mapping.ts';
import type { ServiceMetrics } from './ops/metrics.ts';

export interface WiringDeps {
  config: ServiceConfig;
  metrics: ServiceMetrics;
  feedbackStore: FeedbackStore;
  logger: Logger;
  /** What ordering sessions were told; outlives model swaps. */
  sessions?: SessionMemory;
}

/** The ONNX student as the handlers' MedicationModel port, timing every inference. */
export function modelPort(runtime: StudentRuntime, mapping: LoadedMapping, observe: (version: string, seconds: number) => void): MedicationModel {
  const version = runtime.manifest.modelVersion;
  const empty = new Float32Array(runtime.labels.length);
  // One session run at a time (the runtime queues them too): a call whose budget ran out while it waited here is
  // dropped at its turn instead of spending model time nobody will read (under overload that is most of the queue).
  let turn: Promise<unknown> = Promise.resolve();
  const run = async (records: DatasetRecord[], signal?: AbortSignal): Promise<Prediction[]> => {
    const next = turn.then(async () => {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('the call was abandoned');
      const started = performance.now();
      const out = await runtime.predict(records);
      observe(version, (performance.now() - started) / 1000);
      return out;
    });
    turn = next.catch(() => undefined);
    return next;
  };
  // The runtime reports substitutions without the unseen code's name; the code map has it.
  const fromNames = new Map((runtime.codeMap?.file.entries ?? []).filter((e) => e.fromName !== '').map((e) => [`${e.kind}\u0000${e.from}`, e.fromName]));
  return {
    version,
    labels: runtime.labels,
    threshold: runtime.manifest.thresholds.default,
    labelInfo(label: string): LabelInfo | undefined {
      // The site's current catalog first (names and orderables may have been corrected since training).
      const entry = mapping.labelEntry(label) ?? runtime.manifest.labelCatalog[label];
      if (!entry) return undefined;
      return entry.orderable ? { name: entry.name, orderable: entry.orderable } : { name: entry.name };
    },
    async predict(records: DatasetRecord[], signal?: AbortSignal): Promise<Float32Array[]> {
      // A record with no code the model knows gets no probabilities above any threshold: nothing is suggested.
      return (await run(records, signal)).map((p) => (p.status === 'ok' ? p.probabilities : empty));
    },
    async scoreRecord(record: DatasetRecord, signal?: AbortSignal): Promise<RecordScores> {
      const [p] = await run([record], signal);
      if (!p) throw new Error('the model answered no prediction for one record');
      const substitutions = (p.substitutions ?? []).map((s): CodeSubstitution => {
        const fromName = fromNames.get(`${s.kind}\u0000${s.from}`);
        return { kind: s.kind, encounter: s.encounter, from: s.from, ...(fromName ? { fromName } : {}), to: s.to, ...(s.toName ? { toName: s.toName } : {}) };
      });
      return { probabilities: p.status === 'ok' ? p.probabilities : empty, substitutions };
    },
  };
}

/** Base URLs compared as URLs (scheme and host case, default port) without a trailing slash; user info never matches. */
export function fhirServerPolicy(allowed: readonly string[]): (url: string) => boolean {
  const norm = (u: string): string | undefined => {
    let x: URL;
    try {
      x = new URL(u);
    } catch {
      return undefined;
    }
    if (x.username !== '' || x.password !== '') return undefined;
    return `${x.origin}${x.pathname.replace(/\/+$/, '')}${x.search}`;
  };
  const set = new Set(allowed.map(norm).filter((u): u is string => u !== undefined));
  return (url) => {
    const key = norm(url);
    return key !== undefined && set.has(key);
  };
}

/** First runs of an ONNX session are slow; run a few before the service reports ready, not inside a client's budget. */
export async function warmUp(runtime: StudentRuntime): Promise<void> {
  const token = runtime.manifest.vocabularies.diagnoses.at(-1);
  if (token === undefined) return;
  const record: DatasetRecord = {
    patientId: 'warm-up',
    encounterId: 'warm-up',
    visitIndex: 0,
    patientVisits: 1,
    start: new Date().toISOString(),
    profile: {},
    history: [],
    diagnoses: [token],
    procedures: [],
    labels: [],
  };
  // Batch sizes like the handlers' (one record, or one per occluded code for explanations).
  for (const size of [1, 8, 32, 1]) await runtime.predict(Array.from({ length: size }, () => record));
}

/** The FHIR bundle reader and serving-time record builder as the handlers' history port. */
export async function historyPort(): Promise<HistoryBuilder> {
  const [{ historyFromResources }, { recordForEncounter }] = await Promise.all([import('../fhir/bundle-reader.ts'), import('../dataset/records.ts')]);
  return {
    historyFromResources: (resources, mapping, patientId) => {
      // Problems with their statuses are kept: with no encounter in progress, "now" is the active problem list.
      const read = historyFromResources(resources, mapping, patientId, undefined, { keepProblems: true });
      return { history: read.history, issues: read.issues };
    },
    recordForEncounter,
  };
}

/** Which model directory to serve: the configured one, else the registry's current version. */
export async function resolveModelDir(config: ServiceConfig): Promise<{ dir: string; fromRegistry: boolean }> {
  if (config.model.dir) return { dir: config.model.dir, fromRegistry: false };
  const { ModelRegistry } = await import('../retrain/registry.ts');
  const current = await new ModelRegistry(config.model.registry).currentDir();
  if (!current) throw new Error(`the model registry ${config.model.registry} has no current version (promote one with \`leader-cds models promote\`, or set model.dir)`);
  return { dir: current.dir, fromRegistry: true };
}

/** Loads one model directory and builds the hook handlers on it; `close` releases the model. */
export async function loadModelServices(deps: WiringDeps, modelDir: string): Promise<LoadedModelServices> {
  const { config, logger } = deps;
  // Imported here so that the edge's tests and the CLI's other commands do not load onnxruntime.
  const [{ loadMapping }, { StudentRuntime }, { createHookServices }, history] = await Promise.all([
    import('../mapping/load.ts'),
    import('../model/runtime/session.ts'),
    import('./hooks/services.ts'),
    historyPort(),
  ]);
  const mapping = await loadMapping(config.mapping.path);
  // One intra-op thread: batch-1 latency is lowest, and the other core serves concurrent requests.
  const runtime = await StudentRuntime.load(modelDir, { provider: 'cpu', threads: 1 });
  logger.info(
    { model: runtime.manifest.modelVersion, modelDir, mapping: mapping.name, labels: runtime.labels.length, provider: runtime.provider },
    'model and mapping loaded',
  );
  const check = checkModelMapping(runtime.manifest, mapping);
  for (const note of check.notes) logger.info({ model: runtime.manifest.modelVersion, mapping: mapping.name }, note);
  if (check.mismatches.length > 0) {
    if (!config.model.allowMappingMismatch) {
      await runtime.close();
      throw new ModelMappingMismatch(check.mismatches);
    }
    deps.metrics.mappingMismatchForced.inc({ model: runtime.manifest.modelVersion });
    logger.error(
      { model: runtime.manifest.modelVersion, mapping: mapping.name, mismatches: check.mismatches },
      'SERVING A MODEL TRAINED ON ANOTHER MAPPING (model.allowMappingMismatch: true): its cards rest on whatever codes happen to overlap',
    );
  }
  await warmUp(runtime);
  const metricsPort = hookMetricsPort(deps.metrics);
  const size = config.model.scoreCacheSize;
  const scoreCache = size > 0 ? new ScoreCache(size, (hit) => deps.metrics.scoreCache.inc({ result: hit ? 'hit' : 'miss' })) : undefined;
  const services = createHookServices({
    model: modelPort(runtime, mapping, metricsPort.inference),
    ...(scoreCache ? { scoreCache } : {}),
    mapping,
    history,
    metrics: metricsPort,
    cardLog: cardLogPort(deps.feedbackStore),
    ...(deps.sessions ? { sessionStore: deps.sessions } : {}),
    ...(config.fhir.allowedServers ? { fhirServerAllowed: fhirServerPolicy(config.fhir.allowedServers) } : {}),
    definitionsDir: config.services.definitionsDir,
  });
  return { version: runtime.manifest.modelVersion, services, close: () => runtime.close() };
}

/** Loads the mapping and the configured (or currently promoted) model and builds the hook handlers. */
export async function loadHookServices(deps: WiringDeps): Promise<CdsService[]> {
  return (await loadModelServices(deps, (await resolveModelDir(deps.config)).dir)).services;
}
