// Shape parameters of the LEADER(S) student; they travel in the model manifest so that runtime and exporter agree.
import { z } from 'zod';

export const RECENCY_MODES = ['none', 'position'] as const;
export type RecencyMode = (typeof RECENCY_MODES)[number];
export const WIDE_MODES = ['none', 'linear', 'hidden'] as const;
export type WideMode = (typeof WIDE_MODES)[number];

export const StudentConfig = z
  .object({
    /** Embedding and transformer width. */
    dim: z.number().int().positive(),
    heads: z.number().int().positive(),
    /** Feed-forward width of every transformer block. */
    ffn: z.number().int().positive(),
    /** Width of the first head layer; its pre-ReLU output is the distillation feature z. */
    hidden: z.number().int().positive(),
    /** Encounters kept per patient, the current one included (the most recent ones are kept). */
    maxVisits: z.number().int().min(1),
    /** Codes kept per set (diagnoses, procedures or medications of one encounter). */
    maxCodes: z.number().int().min(1),
    /** LayerNorm epsilon, the same in tfjs and ONNX. */
    epsilon: z.number().positive(),
    /**
     * Recency across encounters, a deviation from the paper (docs/student-model.md): `position` adds a learned
     * embedding of each encounter's distance to the current one (0 = current) to its set vectors before the
     * shared encounter block. `none` is the paper's order-free model; manifests without the field mean `none`.
     */
    recency: z.enum(RECENCY_MODES).default('none'),
    /**
     * Wide term, a deviation from the paper (docs/student-model.md): `linear` adds to the logits a linear function of
     * what the logistic-regression baseline sees (current diagnoses and procedures, last and any earlier encounter's
     * medications, profile values), read from the same encoder inputs. `hidden` puts one ReLU layer of `wideHidden`
     * units between those features and the logits (an MLP branch over them). Manifests without the field mean `none`.
     */
    wide: z.enum(WIDE_MODES).default('none'),
    /** Units of the `hidden` wide branch; absent means DEFAULT_WIDE_HIDDEN. */
    wideHidden: z.number().int().positive().optional(),
  })
  .strict()
  .refine((c) => c.dim % c.heads === 0, { message: 'dim must be a multiple of heads' });

export type StudentConfig = z.infer<typeof StudentConfig>;

export const DEFAULT_WIDE_HIDDEN = 256;
/** Columns of the wide tables: the labels (linear) or the hidden units (hidden). */
export const wideWidth = (c: StudentConfig, labels: number): number => (c.wide === 'hidden' ? (c.wideHidden ?? DEFAULT_WIDE_HIDDEN) : labels);

export const defaultStudentConfig: StudentConfig = {
  dim: 64,
  heads: 4,
  ffn: 300,
  hidden: 128,
  maxVisits: 10,
  maxCodes: 32,
  epsilon: 1e-5,
  // New models get the recency embedding (docs/student-model.md: it closes most of the multi-encounter gap);
  // manifests without the field still load as 'none'.
  recency: 'position',
  // Off until measured as the default (docs/student-model.md, "Deviation: wide term").
  wide: 'none',
};
