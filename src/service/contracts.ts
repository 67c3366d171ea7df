// Contracts between the HTTP edge (src/service/app.ts and friends) and the hook logic (src/service/hooks/**).
// Handlers take typed inputs and return typed results or throw ServiceError; only the edge knows HTTP.
import type { Bundle, Coding, FhirResource, Resource } from 'fhir/r4';

export type ServiceErrorKind =
  | 'invalid' // 400: malformed body, wrong hook, missing context fields
  | 'unauthorized' // 401: no detail given to the caller
  | 'forbidden' // 403
  | 'not-found' // 404: unknown service id
  | 'too-large' // 413
  | 'unsupported-media' // 415
  | 'precondition-failed' // 412: required FHIR data cannot be had
  | 'too-many' // 429: too many failed admin sign-ins from one address (Retry-After set by the limiter)
  | 'unavailable' // 503: model not loaded, dependency down
  | 'timeout'; // 503 with Retry-After: time budget spent before anything useful could be said

/** A typed failure; the edge turns it into an OperationOutcome with the matching HTTP status. */
export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    /** Where in the request the problem is (FHIRPath-like, e.g. `context.draftOrders`). */
    readonly expression?: string[],
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export interface FhirAuthorization {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  subject: string;
  patient?: string;
}

/** A CDS Hooks 2.0 request after schema validation. */
export interface HookRequest {
  hook: string;
  hookInstance: string;
  fhirServer?: string;
  fhirAuthorization?: FhirAuthorization;
  context: Record<string, unknown>;
  prefetch?: Record<string, FhirResource | null>;
}

export interface OrderSelectContext {
  userId: string;
  patientId: string;
  encounterId?: string;
  selections: string[];
  draftOrders: Bundle;
}

export interface OrderSignContext {
  userId: string;
  patientId: string;
  encounterId?: string;
  draftOrders: Bundle;
}

export interface Action {
  type: 'create' | 'update' | 'delete';
  description: string;
  resource?: Resource;
  resourceId?: string[];
}

export interface Suggestion {
  label: string;
  uuid?: string;
  isRecommended?: boolean;
  actions?: Action[];
}

export interface Link {
  label: string;
  url: string;
  type: 'absolute' | 'smart';
  appContext?: string;
}

export interface Card {
  uuid?: string;
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; icon?: string; topic?: Coding };
  suggestions?: Suggestion[];
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: Coding[];
  links?: Link[];
}

export interface CdsResponse {
  cards: Card[];
  systemActions?: Action[];
}

/** Per-call facts the edge hands to a handler. */
export interface CallContext {
  requestId: string;
  /** Absolute deadline (ms since epoch) by which the handler must answer. */
  deadline: number;
  signal: AbortSignal;
  /** The JWT issuer (when authenticated), to scope session state per client. */
  issuer?: string;
  /** The JWT `tenant` claim, when the client sent one (multi-tenant EHRs). */
  tenant?: string;
}

/** One CDS service as discovery lists it, plus its handler. */
export interface CdsService {
  id: string;
  hook: string;
  title?: string;
  description: string;
  prefetch?: Record<string, string>;
  usageRequirements?: string;
  handle(request: HookRequest, call: CallContext): Promise<CdsResponse>;
}
