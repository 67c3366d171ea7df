// The one place where failures become HTTP answers: every error leaves as a FHIR OperationOutcome
// with the status the CDS Hooks spec and the ServiceError kind call for.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';
import type {} from 'pino-http'; // its types add req.id and req.log
import { ServiceError, type ServiceErrorKind } from './contracts.ts';

type IssueCode = OperationOutcomeIssue['code'];

const KINDS: Record<ServiceErrorKind, { status: number; code: IssueCode }> = {
  invalid: { status: 400, code: 'invalid' },
  unauthorized: { status: 401, code: 'login' },
  forbidden: { status: 403, code: 'forbidden' },
  'not-found': { status: 404, code: 'not-found' },
  'too-large': { status: 413, code: 'too-costly' },
  'unsupported-media': { status: 415, code: 'not-supported' },
  'precondition-failed': { status: 412, code: 'incomplete' },
  'too-many': { status: 429, code: 'throttled' },
  unavailable: { status: 503, code: 'transient' },
  timeout: { status: 503, code: 'timeout' },
};

/** An HTTP method the route does not serve (405 with Allow). Edge-only, so not a ServiceError kind. */
export class MethodNotAllowed extends Error {
  constructor(readonly allow: string[]) {
    super(`method not allowed here; allowed: ${allow.join(', ')}`);
    this.name = 'MethodNotAllowed';
  }
}

/** Seconds a client should wait after a 503. */
const RETRY_AFTER_SECONDS = 1;

export function statusOf(kind: ServiceErrorKind): number {
  return KINDS[kind].status;
}

export function operationOutcome(
  severity: OperationOutcomeIssue['severity'],
  code: IssueCode,
  diagnostics: string,
  expression?: string[],
): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code, diagnostics };
  if (expression && expression.length > 0) issue.expression = expression;
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

function send(res: Response, status: number, outcome: OperationOutcome): void {
  if (res.headersSent) return;
  res.status(status).type('application/fhir+json').send(JSON.stringify(outcome));
}

/** body-parser marks its errors with `type`; these are the client's fault, never a 500. */
function fromBodyParser(err: unknown): ServiceError | undefined {
  if (err === null || typeof err !== 'object' || !('type' in err)) return undefined;
  const type = (err as { type: unknown }).type;
  switch (type) {
    case 'entity.too.large':
      return new ServiceError('too-large', 'request body is larger than the configured limit');
    case 'entity.parse.failed':
      return new ServiceError('invalid', 'request body is not valid JSON');
    case 'entity.verify.failed':
    case 'request.aborted':
    case 'request.size.invalid':
      return new ServiceError('invalid', 'request body could not be read');
    case 'charset.unsupported':
      return new ServiceError('unsupported-media', 'unsupported charset; send UTF-8 JSON');
    case 'encoding.unsupported':
      return new ServiceError('unsupported-media', 'unsupported content encoding');
    case 'stream.encoding.set':
    case 'stream.not.readable':
      return new ServiceError('invalid', 'request body could not be read');
    default:
      return undefined;
  }
}

/** Express error middleware: the last handler of the app. */
export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  const known = err instanceof ServiceError ? err : fromBodyParser(err);
  if (known) {
    const { status, code } = KINDS[known.kind];
    if (status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    // 401 says nothing: a caller probing tokens learns nothing from the answer.
    const diagnostics = known.kind === 'unauthorized' ? 'unauthorized' : known.message;
    const expression = known.kind === 'unauthorized' ? undefined : known.expression;
    // The admin endpoints ask for Basic (a browser prompts for it); everything else for a bearer token.
    if (known.kind === 'unauthorized' && !res.get('WWW-Authenticate')) res.set('WWW-Authenticate', 'Bearer');
    send(res, status, operationOutcome('error', code, diagnostics, expression));
    return;
  }
  if (err instanceof MethodNotAllowed) {
    res.set('Allow', err.allow.join(', '));
    send(res, 405, operationOutcome('error', 'not-supported', err.message));
    return;
  }
  // Unexpected: the caller learns only the request id; the log has the rest.
  req.log?.error({ err }, 'unexpected error');
  const id = typeof req.id === 'string' || typeof req.id === 'number' ? String(req.id) : 'unknown';
  send(res, 500, operationOutcome('fatal', 'exception', `internal error (request id ${id})`));
};

/** Last route: anything not matched is a 404. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ServiceError('not-found', `no such endpoint: ${req.method} ${req.path.slice(0, 200)}`));
};
