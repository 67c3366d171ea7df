// Shape parameters of the LEADER(S) student; they travel in the model manifest so that runtime and exporter agree.
import { z } from 'zod';

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
  })
  .strict()
  .refine((c) => c.dim % c.heads === 0, { message: 'dim must be a multiple of heads' });

export type StudentConfig = z.infer<typeof StudentConfig>;

export const defaultStudentConfig: StudentConfig = {
  dim: 64,
  heads: 4,
  ffn: 300,
  hidden: 128,
  maxVisits: 10,
  maxCodes: 32,
  epsilon: 1e-5,
};
