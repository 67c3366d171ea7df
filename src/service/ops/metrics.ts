// Prometheus metrics of the service, on a registry of its own (tests build several apps in one process).
// The hook handlers record model inference and FHIR fallback through the objects exported here.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** HTTP requests by route template, method and status. */
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  /** End-to-end latency of hook calls, by hook and service, with the status class. */
  readonly hookLatency: Histogram<'hook' | 'service' | 'status'>;
  /** Model inference time in seconds, by model version. Handlers observe it. */
  readonly modelInference: Histogram<'model_version'>;
  /** Cards returned, by service. */
  readonly cardsReturned: Counter<'service'>;
  /** FHIR fallback queries issued by handlers, by resource type. */
  readonly fhirFallbackCalls: Counter<'resource'>;
  /** FHIR fallback queries that failed, by resource type and reason (timeout, http-status, network, invalid). */
  readonly fhirFallbackFailures: Counter<'resource' | 'reason'>;
  /** FHIR fallback query time in seconds, by resource type and outcome. */
  readonly fhirFallbackLatency: Histogram<'resource' | 'outcome'>;
  /** Where each prefetch key's data came from (prefetch, fetched, failed, not-needed). */
  readonly prefetchKeys: Counter<'key' | 'source'>;
  /** Cards by hook and kind (suggestion, interaction, missing-class), as handlers report them. */
  readonly cardsByKind: Counter<'hook' | 'kind'>;
  /** Cards a handler returned that broke the response schema and were dropped. */
  readonly invalidCards: Counter<'service'>;
  /** Feedback items stored (duplicates excluded), by outcome. */
  readonly feedbackItems: Counter<'outcome'>;
  /** Calls refused by authentication. */
  readonly authFailures: Counter;
  /** Score-cache lookups (a record's scores, or its explanation's): hit, or miss (the model ran). */
  readonly scoreCache: Counter<'result'>;
  /** Unseen codes a suggestion card said were read as known ones (kind only, never the codes). */
  readonly codeSubstitutions: Counter<'hook' | 'kind'>;
  /** Models loaded although their training mapping differs from the served one (model.allowMappingMismatch). */
  readonly mappingMismatchForced: Counter<'model'>;
}

// Sub-millisecond model work and 300 ms budgets in one histogram: fine buckets at the low end.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5];
const INFERENCE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'leader_cds_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'leader_cds_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    hookLatency: new Histogram({
      name: 'leader_cds_hook_duration_seconds',
      help: 'Hook call latency (request parsed to response sent), by hook and service',
      labelNames: ['hook', 'service', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    modelInference: new Histogram({
      name: 'leader_cds_model_inference_seconds',
      help: 'Model inference time per session run (the wait for the single ONNX session under concurrency is not included)',
      labelNames: ['model_version'],
      buckets: INFERENCE_BUCKETS,
      registers,
    }),
    cardsReturned: new Counter({
      name: 'leader_cds_cards_returned_total',
      help: 'Cards returned to CDS clients',
      labelNames: ['service'],
      registers,
    }),
    fhirFallbackCalls: new Counter({
      name: 'leader_cds_fhir_fallback_calls_total',
      help: 'FHIR server queries made because prefetch lacked data',
      labelNames: ['resource'],
      registers,
    }),
    fhirFallbackFailures: new Counter({
      name: 'leader_cds_fhir_fallback_failures_total',
      help: 'FHIR fallback queries that failed',
      labelNames: ['resource', 'reason'],
      registers,
    }),
    fhirFallbackLatency: new Histogram({
      name: 'leader_cds_fhir_fallback_duration_seconds',
      help: 'FHIR fallback query time',
      labelNames: ['resource', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    prefetchKeys: new Counter({
      name: 'leader_cds_prefetch_keys_total',
      help: 'Prefetch keys by where their data came from',
      labelNames: ['key', 'source'],
      registers,
    }),
    cardsByKind: new Counter({
      name: 'leader_cds_cards_by_kind_total',
      help: 'Cards by hook and kind',
      labelNames: ['hook', 'kind'],
      registers,
    }),
    invalidCards: new Counter({
      name: 'leader_cds_invalid_cards_dropped_total',
      help: 'Cards dropped because they broke the CDS Hooks response schema',
      labelNames: ['service'],
      registers,
    }),
    feedbackItems: new Counter({
      name: 'leader_cds_feedback_items_total',
      help: 'Feedback items stored (duplicates excluded)',
      labelNames: ['outcome'],
      registers,
    }),
    scoreCache: new Counter({
      name: 'leader_cds_score_cache_lookups_total',
      help: 'Score-cache lookups for a record or its explanation: hit, or miss (the model ran)',
      labelNames: ['result'],
      registers,
    }),
    codeSubstitutions: new Counter({
      name: 'leader_cds_code_substitutions_total',
      help: 'Unseen diagnosis and procedure codes shown on suggestion cards as read as the nearest known code (the model directory code map)',
      labelNames: ['hook', 'kind'],
      registers,
    }),
    mappingMismatchForced: new Counter({
      name: 'leader_cds_model_mapping_mismatch_forced_total',
      help: 'Models loaded although their training mapping differs from the served mapping (model.allowMappingMismatch: true)',
      labelNames: ['model'],
      registers,
    }),
    authFailures: new Counter({
      name: 'leader_cds_auth_failures_total',
      help: 'Calls refused by JWT authentication',
      registers,
    }),
  };
}
