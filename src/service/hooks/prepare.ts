// Shared first half of both handlers: resolve the FHIR data, build the history, pick the encounter, read the orders.
import type { Bundle, FhirResource } from 'fhir/r4';
import type { DatasetRecord } from '../../dataset/types.ts';
import type { CodedEntry, EncounterRecord, PatientHistory } from '../../history/types.ts';
import { placeNow, type NowBasis } from '../../history/now.ts';
import type { LoadedMapping } from '../../mapping/types.ts';
import { ServiceError, type CallContext, type HookRequest } from '../contracts.ts';
import { keySpecs } from '../prefetch/keys.ts';
import { resolvePrefetch } from '../prefetch/resolve.ts';
import { activeMedications, readDrafts, type DraftSet, type OrderedMedication } from './orders.ts';
import type { CardLog, HistoryBuilder, HookMetrics, MedicationModel } from './ports.ts';
import type { ScoreCache } from '../score-cache.ts';
import type { SessionMemory } from './session-store.ts';

export interface HookOptions {
  /** Time kept back from the deadline for the model and the cards (ms). */
  reserveMs: number;
  maxPages: number;
  pageSize: number;
  maxSuggestions: number;
  /** order-sign: probability above which a missing class is "strongly indicated". */
  strongThreshold: number;
  /** Inputs occluded for explanations (one batched predict call of this many records, only when a suggestion is shown). */
  occlusionBound: number;
  topInputs: number;
  topReasons: number;
}

export const defaultHookOptions: HookOptions = {
  reserveMs: 40,
  maxPages: 10,
  pageSize: 200,
  maxSuggestions: 5,
  strongThreshold: 0.8,
  occlusionBound: 64,
  topInputs: 3,
  topReasons: 3,
};

export interface HookDeps {
  model: MedicationModel;
  mapping: LoadedMapping;
  history: HistoryBuilder;
  metrics?: HookMetrics;
  sessionStore?: SessionMemory;
  /** Scores of records seen before, for this model (one cache per loaded model). */
  scoreCache?: ScoreCache;
  /** Whether a FHIR server may receive the client's token; any server when absent (config fhir.allowedServers). */
  fhirServerAllowed?: (url: string) => boolean;
  cardLog?: CardLog;
  options?: Partial<HookOptions>;
  /** The instant "now" is placed at (active problems, in-progress encounters); the system clock when absent. */
  clock?: () => Date;
  /** The service's mode (its definition's `mode`): `shadow` shows safety warnings only and records suggestions. */
  mode?: 'live' | 'shadow';
}

export interface Prepared {
  patientId: string;
  /** The encounter the orders belong to: the request's, or the one in progress; undefined when none is (src/history/now.ts). */
  encounterId?: string;
  /** What "now" was built from, for the card's one line and for the rule that suggestions need a current picture. */
  now: { basis: NowBasis; description: string; currentDiagnoses: number; currentProcedures: number };
  history: PatientHistory;
  encounter: EncounterRecord;
  record: DatasetRecord;
  drafts: DraftSet;
  active: OrderedMedication[];
  /** Degraded optional data and other facts the clinician should know. */
  notes: string[];
  /** Current diagnosis token -> the Condition behind it and its name (never a finished encounter's or a resolved one). */
  conditions: Map<string, { reference: string; display?: string }>;
  /** Token -> display, for explanations. */
  names: Map<string, string>;
}

export function timeLeft(call: CallContext): void {
  if (call.signal.aborted || Date.now() >= call.deadline) {
    throw new ServiceError('timeout', 'the time budget of this call was spent before an answer could be computed');
  }
}

function conditionRef(entry: CodedEntry): string | undefined {
  if (!entry.source) return undefined;
  if (/^Condition\//.test(entry.source)) return entry.source;
  if (entry.source.includes('/')) return undefined;
  return `Condition/${entry.source}`;
}

export async function prepare(
  request: HookRequest,
  call: CallContext,
  ctx: { patientId: string; encounterId?: string; selections: readonly string[]; draftOrders: Bundle },
  deps: HookDeps,
  options: HookOptions,
): Promise<Prepared> {
  const draftResources = (ctx.draftOrders.entry ?? []).flatMap((e) => (e.resource ? [e.resource as FhirResource] : []));
  // Selections are checked before any FHIR traffic: a bad request costs nothing.
  readDrafts(ctx.draftOrders, ctx.selections, deps.mapping, draftResources);

  const specs = keySpecs(ctx);
  const resolved = await resolvePrefetch(request, ctx.patientId, specs, {
    deadline: call.deadline - options.reserveMs,
    signal: call.signal,
    metrics: deps.metrics,
    maxPages: options.maxPages,
    pageSize: options.pageSize,
    ...(deps.fhirServerAllowed ? { serverAllowed: deps.fhirServerAllowed } : {}),
  });
  const failed = Object.values(resolved.results).filter((r) => r && r.required && r.source === 'failed');
  if (failed.length > 0) {
    const why = failed.map((r) => `${r!.key}: ${r!.note ?? r!.failure}`).join('; ');
    if (failed.some((r) => r!.failure === 'timeout')) {
      throw new ServiceError('timeout', `required FHIR data did not arrive within the time budget (${why})`, failed.map((r) => `prefetch.${r!.key}`));
    }
    throw new ServiceError('precondition-failed', `required FHIR data cannot be had (${why})`, failed.map((r) => `prefetch.${r!.key}`));
  }
  timeLeft(call);

  const { history } = deps.history.historyFromResources(resolved.resources, deps.mapping, ctx.patientId);
  const notes = [...resolved.notes];
  const now = placeNow(history, { ...(ctx.encounterId ? { encounterId: ctx.encounterId } : {}), at: deps.clock?.() ?? new Date() });
  const working = now.history;
  const index = now.index;
  const encounterId = now.encounterId;
  const encounter = working.encounters[index]!;
  const record = deps.history.recordForEncounter(working, index, deps.mapping);

  const lookup = [...resolved.resources, ...draftResources];
  const drafts = readDrafts(ctx.draftOrders, ctx.selections, deps.mapping, lookup);
  const active = activeMedications(resolved.resources, drafts, deps.mapping);
  notes.unshift(now.description);
  const unresolved = drafts.medications.filter((d) => d.labels.length === 0 && !d.empty).map((d) => d.display);
  if (unresolved.length > 0) {
    notes.push(`Not recognised by mapping ${deps.mapping.name}, so not checked: ${[...new Set(unresolved)].join(', ')}`);
  }

  // Only current conditions may be given as the reason for an order; earlier ones only name tokens.
  const conditions = new Map<string, { reference: string; display?: string }>();
  for (const d of now.current) {
    const ref = conditionRef(d);
    if (ref && !conditions.has(d.token)) conditions.set(d.token, { reference: ref, ...(d.concept.display ? { display: d.concept.display } : {}) });
  }
  const names = new Map<string, string>();
  const ordered = [encounter, ...working.encounters.slice(0, index).reverse()];
  for (const e of ordered) {
    for (const d of e.diagnoses) if (d.concept.display && !names.has(d.token)) names.set(d.token, d.concept.display);
    for (const p of e.procedures) if (p.concept.display && !names.has(p.token)) names.set(p.token, p.concept.display);
  }
  return {
    patientId: ctx.patientId,
    ...(encounterId ? { encounterId } : {}),
    now: { basis: now.basis, description: now.description, currentDiagnoses: now.current.length, currentProcedures: encounter.procedures.length },
    history: working,
    encounter,
    record,
    drafts,
    active,
    notes,
    conditions,
    names,
  };
}
