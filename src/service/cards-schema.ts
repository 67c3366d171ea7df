// CDS Hooks 2.0 response schema written from the spec (cards, suggestions, actions, links, system actions),
// used by the edge to check what handlers return and by tests to check what the service sends.
import { z } from 'zod';

// Optional attributes with no value are omitted in CDS Hooks, never null or empty.
const nonEmpty = z.string().min(1);

export const CodingSchema = z
  .object({
    system: nonEmpty.optional(),
    version: nonEmpty.optional(),
    code: nonEmpty.optional(),
    display: nonEmpty.optional(),
    userSelected: z.boolean().optional(),
  })
  .strict();

const ResourceSchema = z.object({ resourceType: z.string().regex(/^[A-Z][A-Za-z]+$/) }).passthrough();

export const ActionSchema = z
  .object({
    type: z.enum(['create', 'update', 'delete']),
    description: nonEmpty,
    resource: ResourceSchema.optional(),
    // 2.0's text and its test kits use a string; the project contract (and 3.0 drafts) an array: accept both.
    resourceId: z.union([nonEmpty, z.array(nonEmpty).min(1)]).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.type === 'create' || a.type === 'update') && a.resource === undefined)
      ctx.addIssue({ code: 'custom', path: ['resource'], message: `a ${a.type} action carries the resource` });
    if (a.type === 'delete' && a.resourceId === undefined && a.resource === undefined)
      ctx.addIssue({ code: 'custom', path: ['resourceId'], message: 'a delete action names what it deletes' });
    if (a.type === 'update' && a.resource !== undefined && typeof a.resource.id !== 'string')
      ctx.addIssue({ code: 'custom', path: ['resource', 'id'], message: 'an update carries the whole resource, id included' });
  });

export const SuggestionSchema = z
  .object({
    label: nonEmpty,
    uuid: nonEmpty.optional(),
    isRecommended: z.boolean().optional(),
    actions: z.array(ActionSchema).min(1).optional(),
  })
  .strict();

export const LinkSchema = z
  .object({
    label: nonEmpty,
    url: z.string().url(),
    type: z.enum(['absolute', 'smart']),
    appContext: nonEmpty.optional(),
  })
  .strict()
  .refine((l) => l.type === 'smart' || l.appContext === undefined, {
    message: 'appContext is only for smart links',
    path: ['appContext'],
  });

export const CardSchema = z
  .object({
    uuid: nonEmpty.optional(),
    // The spec: "<140 characters".
    summary: nonEmpty.max(139),
    detail: nonEmpty.optional(),
    indicator: z.enum(['info', 'warning', 'critical']),
    source: z
      .object({
        label: nonEmpty,
        url: z.string().url().optional(),
        icon: z.string().url().optional(),
        topic: CodingSchema.optional(),
      })
      .strict(),
    suggestions: z.array(SuggestionSchema).min(1).optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z
      .array(CodingSchema.refine((c) => c.display !== undefined && c.code !== undefined, 'override reasons need code and display'))
      .min(1)
      .optional(),
    links: z.array(LinkSchema).min(1).optional(),
  })
  .strict()
  .superRefine((card, ctx) => {
    if (card.suggestions !== undefined && card.selectionBehavior === undefined)
      ctx.addIssue({ code: 'custom', path: ['selectionBehavior'], message: 'required whenever suggestions are given' });
    const uuids = (card.suggestions ?? []).map((s) => s.uuid).filter((u) => u !== undefined);
    if (new Set(uuids).size !== uuids.length)
      ctx.addIssue({ code: 'custom', path: ['suggestions'], message: 'suggestion uuids must be unique within a card' });
  });

export const CdsResponseSchema = z
  .object({
    cards: z.array(CardSchema),
    systemActions: z.array(ActionSchema).min(1).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const uuids = r.cards.map((c) => c.uuid).filter((u) => u !== undefined);
    if (new Set(uuids).size !== uuids.length)
      ctx.addIssue({ code: 'custom', path: ['cards'], message: 'card uuids must be unique within a response' });
  });

export type CardShape = z.infer<typeof CardSchema>;

/** Readable list of what is wrong with a response, for test failures and logs (no values, only paths). */
export function describeResponseProblems(value: unknown): string[] {
  const result = CdsResponseSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(response)'}: ${i.message}`);
}
