// CDS Hooks 2.0 feedback body: what the clinician did with each card.
import { z } from 'zod';
import { ServiceError } from '../contracts.ts';

const CodingSchema = z
  .object({
    system: z.string().min(1).optional(),
    code: z.string().min(1).optional(),
    display: z.string().min(1).optional(),
  })
  .passthrough();

// ISO 8601 date-time with a zone, as the spec's examples and FHIR instant.
const Instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, 'an ISO 8601 date-time with zone')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'a real date-time');

export const FeedbackItemSchema = z
  .object({
    card: z.string().min(1).max(200),
    outcome: z.enum(['accepted', 'overridden']),
    acceptedSuggestions: z
      .array(z.object({ id: z.string().min(1).max(200) }).passthrough())
      .min(1)
      .max(100)
      .optional(),
    overrideReason: z
      .object({ reason: CodingSchema.optional(), userComment: z.string().max(4000).optional() })
      .passthrough()
      .optional(),
    outcomeTimestamp: Instant,
  })
  .passthrough()
  .superRefine((f, ctx) => {
    if (f.outcome === 'accepted' && f.acceptedSuggestions === undefined)
      ctx.addIssue({ code: 'custom', path: ['acceptedSuggestions'], message: 'required when outcome is accepted' });
    if (f.outcome === 'accepted' && f.overrideReason !== undefined)
      ctx.addIssue({ code: 'custom', path: ['overrideReason'], message: 'only for outcome overridden' });
    if (f.outcome === 'overridden' && f.acceptedSuggestions !== undefined)
      ctx.addIssue({ code: 'custom', path: ['acceptedSuggestions'], message: 'only for outcome accepted' });
  });

export const FeedbackBodySchema = z.object({ feedback: z.array(FeedbackItemSchema).min(1).max(1000) }).passthrough();

export type FeedbackItem = z.infer<typeof FeedbackItemSchema>;

export function parseFeedback(body: unknown): FeedbackItem[] {
  const result = FeedbackBodySchema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 10);
    throw new ServiceError(
      'invalid',
      `invalid feedback: ${issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
      [...new Set(issues.map((i) => i.path.join('.')))].filter((p) => p),
    );
  }
  return result.data.feedback;
}
