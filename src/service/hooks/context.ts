// Validation of the order-select / order-sign contexts: a bad field is a 400 naming where it is.
import type { Bundle } from 'fhir/r4';
import { z } from 'zod';
import { ServiceError, type HookRequest, type OrderSelectContext, type OrderSignContext } from '../contracts.ts';

// FHIR id syntax; references in selections are relative `Type/id`.
const fhirId = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, 'a FHIR id (letters, digits, - and ., at most 64)');
const reference = z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'a relative reference such as MedicationRequest/123');

const bundle = z
  .object({
    resourceType: z.literal('Bundle', { errorMap: () => ({ message: 'must be a FHIR Bundle' }) }),
    entry: z
      .array(
        z
          .object({
            fullUrl: z.string().optional(),
            resource: z.object({ resourceType: z.string().min(1), id: z.string().optional() }).passthrough().optional(),
          })
          .passthrough(),
      )
      .optional(),
  })
  .passthrough();

const base = {
  userId: z.string().min(1),
  patientId: fhirId,
  encounterId: fhirId.optional(),
  draftOrders: bundle,
};

const selectContext = z.object({ ...base, selections: z.array(reference).min(1) }).passthrough();
const signContext = z.object(base).passthrough();

function fail(error: z.ZodError): never {
  const issue = error.issues[0];
  const path = issue?.path ?? [];
  let where = 'context';
  for (const part of path) where += typeof part === 'number' ? `[${part}]` : `.${part}`;
  const what = issue?.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : (issue?.message ?? 'is invalid');
  throw new ServiceError('invalid', `${where} ${what}`, [where]);
}

export function checkHook(request: HookRequest, hook: string): void {
  if (request.hook !== hook) {
    throw new ServiceError('invalid', `this service answers the ${hook} hook, not ${JSON.stringify(request.hook)}`, ['hook']);
  }
}

export function orderSelectContext(request: HookRequest): OrderSelectContext {
  checkHook(request, 'order-select');
  const parsed = selectContext.safeParse(request.context);
  if (!parsed.success) fail(parsed.error);
  const c = parsed.data;
  return {
    userId: c.userId,
    patientId: c.patientId,
    ...(c.encounterId ? { encounterId: c.encounterId } : {}),
    selections: c.selections,
    draftOrders: c.draftOrders as unknown as Bundle,
  };
}

export function orderSignContext(request: HookRequest): OrderSignContext {
  checkHook(request, 'order-sign');
  const parsed = signContext.safeParse(request.context);
  if (!parsed.success) fail(parsed.error);
  const c = parsed.data;
  return {
    userId: c.userId,
    patientId: c.patientId,
    ...(c.encounterId ? { encounterId: c.encounterId } : {}),
    draftOrders: c.draftOrders as unknown as Bundle,
  };
}
