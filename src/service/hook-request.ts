// Validation of the generic CDS Hooks 2.0 request envelope; hook-specific context checks belong to the handlers.
import { z } from 'zod';
import { ServiceError, type HookRequest } from './contracts.ts';
import { checkFhirShape } from './fhir-shape.ts';

const FhirAuthorizationSchema = z
  .object({
    access_token: z.string().min(1),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().nonnegative(),
    scope: z.string().min(1),
    subject: z.string().min(1),
    patient: z.string().min(1).optional(),
  })
  .passthrough();

// A prefetch value is a FHIR resource (Bundle, Patient, OperationOutcome, ...) or null. Nullable rather than a union
// with z.null(): a union builds a failed-branch issue for every resource of every call.
const PrefetchValueSchema = z.object({ resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/, 'a FHIR resource type') }).passthrough().nullable();

export const HookRequestSchema = z
  .object({
    hook: z.string().min(1).max(200),
    hookInstance: z.string().uuid(),
    fhirServer: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'an http(s) URL')
      .optional(),
    fhirAuthorization: FhirAuthorizationSchema.optional(),
    context: z.record(z.unknown()),
    prefetch: z.record(PrefetchValueSchema).optional(),
  })
  .passthrough()
  .superRefine((r, ctx) => {
    if (r.fhirAuthorization !== undefined && r.fhirServer === undefined)
      ctx.addIssue({ code: 'custom', path: ['fhirServer'], message: 'required when fhirAuthorization is given' });
  });

/** Parses a request body; throws ServiceError('invalid') naming the fields at fault (never their values). */
export function parseHookRequest(body: unknown): HookRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ServiceError('invalid', 'request body must be a JSON object');
  const result = HookRequestSchema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 10);
    const message = issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    throw new ServiceError('invalid', `invalid hook request: ${message}`, [...new Set(issues.map((i) => i.path.join('.')))].filter((p) => p));
  }
  const r = result.data;
  const problem = checkFhirShape(r.context, 'context') ?? (r.prefetch !== undefined ? checkFhirShape(r.prefetch, 'prefetch') : undefined);
  if (problem) throw new ServiceError('invalid', `invalid hook request: ${problem.path}: ${problem.message}`, [problem.path]);
  const request: HookRequest = { hook: r.hook, hookInstance: r.hookInstance, context: r.context };
  if (r.fhirServer !== undefined) request.fhirServer = r.fhirServer;
  if (r.fhirAuthorization !== undefined) {
    const a = r.fhirAuthorization;
    request.fhirAuthorization = {
      access_token: a.access_token,
      token_type: a.token_type,
      expires_in: a.expires_in,
      scope: a.scope,
      subject: a.subject,
      ...(a.patient !== undefined ? { patient: a.patient } : {}),
    };
  }
  if (r.prefetch !== undefined) request.prefetch = r.prefetch as HookRequest['prefetch'];
  return request;
}
