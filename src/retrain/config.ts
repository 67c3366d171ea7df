// A retraining run's configuration (JSON or YAML file, or built by the CLI), validated with zod.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const BulkSource = z
  .object({
    kind: z.literal('bulk'),
    baseUrl: z.string().url(),
    level: z.enum(['system', 'patient', 'group']).default('system'),
    groupId: z.string().optional(),
    types: z.array(z.string()).default(['Patient', 'Encounter', 'Condition', 'Procedure', 'MedicationRequest', 'Medication']),
    since: z.string().optional(),
    typeFilters: z.array(z.string()).optional(),
    auth: z
      .object({ tokenUrl: z.string().url(), clientId: z.string().min(1), keyFile: z.string().min(1), scope: z.string().optional() })
      .strict()
      .optional(),
  })
  .strict();

const FolderSource = z.object({ kind: z.literal('folder'), path: z.string().min(1) }).strict();

export const RetrainConfig = z
  .object({
    source: z.discriminatedUnion('kind', [BulkSource, FolderSource]),
    mapping: z.string().min(1),
    /** Artifacts of every stage (content-addressed); workers must share it. */
    workDir: z.string().default('var/retrain'),
    registry: z.string().default('models'),
    /** Patient partitions: the unit of parallel history building. */
    partitions: z.number().int().min(1).max(256).default(4),
    student: z
      .object({
        dim: z.number().int().positive().default(64),
        epochs: z.number().int().positive().default(30),
        patience: z.number().int().positive().default(5),
        batchSize: z.number().int().positive().default(64),
        alpha: z.number().nonnegative().default(0),
        beta: z.number().nonnegative().default(0.005),
        seed: z.number().int().default(42),
        backend: z.string().default('auto'),
      })
      .strict()
      .default({}),
    /**
     * LEADER(T) in the pipeline: train the teacher on the training split, compute its features, distil the student
     * from them (`alpha`), and score the teacher beside the candidate. Off by default: on a CPU a scratch teacher learns
     * about the label frequencies and not more (docs/teacher.md), so CPU-only sites keep the plain student.
     */
    teacher: z
      .object({
        enabled: z.boolean().default(false),
        /** A local Hugging Face checkpoint folder (Llama family) to fine-tune with LoRA; absent = a small teacher from scratch. */
        checkpoint: z.string().min(1).optional(),
        finetune: z.enum(['lora', 'full']).optional(),
        steps: z.number().int().positive().default(300),
        batchSize: z.number().int().positive().default(8),
        accumulation: z.number().int().positive().default(4),
        /** Default 2e-4 for LoRA, 1e-3 for full fine-tuning (as `teacher train`). */
        learningRate: z.number().positive().optional(),
        warmupSteps: z.number().int().nonnegative().default(0),
        /** Prompt budget in tokens, capped at the model's context. */
        maxTokens: z.number().int().min(8).default(2048),
        /** From scratch only: the small decoder and its pre-training on the prompt corpus. */
        scratch: z
          .object({
            hidden: z.number().int().min(8).default(128),
            layers: z.number().int().positive().default(4),
            kvHeads: z.number().int().positive().default(2),
            context: z.number().int().min(16).default(512),
            vocab: z.number().int().min(300).default(2000),
            pretrainSteps: z.number().int().nonnegative().default(200),
            pretrainLearningRate: z.number().positive().default(1e-3),
          })
          .strict()
          .default({}),
        /** Weight of the distillation MSE when the teacher is on (paper: 0.4 MIMIC-III, 0.8 MIMIC-IV); `student.alpha` applies without it. */
        alpha: z.number().positive().default(0.4),
        /** Prompts per onnxruntime batch when computing features and scoring. */
        featureBatchSize: z.number().int().positive().default(32),
        seed: z.number().int().default(42),
        backend: z.string().default('auto'),
      })
      .strict()
      .default({}),
    evaluation: z
      .object({
        rounds: z.number().int().positive().default(10),
        baselines: z.array(z.string()).default(['most-frequent', 'previous', 'logreg']),
      })
      .strict()
      .default({}),
    gate: z
      .object({
        prAucTolerance: z.number().nonnegative().default(0.005),
        jaccardTolerance: z.number().nonnegative().default(0.005),
        ddiTolerance: z.number().nonnegative().default(0),
      })
      .strict()
      .default({}),
    /** Promote when the gate passes (otherwise only register the candidate). */
    promote: z.boolean().default(true),
    /** Redis to notify services of a promotion (they also watch the registry file). */
    notifyRedis: z.string().optional(),
    /** Tells exports of the same request apart: a new snapshot exports again. Default: the run's start time. */
    snapshot: z.string().optional(),
    modelVersion: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$/).optional(),
  })
  .strict();

export type RetrainConfig = z.infer<typeof RetrainConfig>;
export type RetrainConfigInput = z.input<typeof RetrainConfig>;

export class RetrainConfigError extends Error {
  override name = 'RetrainConfigError';
}

export function parseRetrainConfig(value: unknown, where = 'retrain config'): RetrainConfig {
  const parsed = RetrainConfig.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new RetrainConfigError(`${where}: ${issues.join('; ')}`);
  }
  return parsed.data;
}

export async function loadRetrainConfig(path: string): Promise<RetrainConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RetrainConfigError(`${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = path.endsWith('.yaml') || path.endsWith('.yml') ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new RetrainConfigError(`${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  return parseRetrainConfig(value, path);
}
