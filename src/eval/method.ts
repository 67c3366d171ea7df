// The one interface every recommender (LEADER student, teacher, baselines) implements, so that
// the evaluation harness compares them all with one command.
import type { DatasetRecord } from '../dataset/types.ts';

/** Typed progress a method reports while fitting; reporters (CLI bar, logs, queue progress) subscribe. */
export type FitProgress =
  | { type: 'epoch'; epoch: number; epochs: number; trainLoss: number; validPrAuc?: number; samplesPerSecond?: number }
  | { type: 'early-stop'; epoch: number; bestEpoch: number; bestValidPrAuc: number }
  | { type: 'message'; text: string };

export interface FitContext {
  /** The label vocabulary; predictions are aligned with it. */
  labels: readonly string[];
  seed: number;
  onProgress?: (event: FitProgress) => void;
}

/** What fitting produced, for reports (training curves). */
export interface FitReport {
  curve?: Array<{ epoch: number; trainLoss: number; validPrAuc?: number }>;
  bestEpoch?: number;
  seconds: number;
}

export interface Recommender {
  readonly name: string;
  /** Decision threshold on probabilities for set metrics (Jaccard, F1, DDI rate, #Med). */
  readonly threshold: number;
  fit(train: readonly DatasetRecord[], validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport>;
  /** One probability vector per record, aligned with `ctx.labels` from fit. */
  predict(records: readonly DatasetRecord[]): Promise<Float32Array[]>;
  /** Releases native resources (e.g. an onnxruntime session); the harness calls it when a fold is done. */
  close?(): Promise<void>;
}

/** Builds a fresh, unfitted recommender: the harness makes one per fold so that folds never share state. */
export type MethodFactory = () => Recommender | Promise<Recommender>;

/**
 * Options the evaluation passes when it builds the LEADER student by name (`leader-s`,
 * `leader-s-nodistill`). Absent fields mean "the student's own defaults".
 */
export interface StudentMethodOptions {
  /** Method name to report (`leader-s` or `leader-s-nodistill`). */
  name: string;
  /** Weight of the distillation loss (MSE to the teacher state); 0 trains without the teacher. */
  alpha?: number;
  /** Weight of the profile alignment loss; 0 disables it. */
  beta?: number;
  /** File of the teacher's pooled hidden states (needed for distillation when alpha > 0). */
  teacherStates?: string;
  /** Upper bound on training epochs (early stopping may stop sooner). */
  epochs?: number;
  /** Epochs without a better validation PR-AUC before training stops. */
  patience?: number;
  /** Adam learning rate. */
  learningRate?: number;
  /** Training batch size. */
  batchSize?: number;
  /** Embedding and transformer width (a multiple of the head count). */
  dim?: number;
  /** Width of the first head layer (the distillation feature z). */
  hidden?: number;
  /** `validation`: after fitting, use the grid threshold with the best validation Jaccard instead of 0.3. */
  thresholdFrom?: 'fixed' | 'validation';
  /** Recency signal across encounters (`position`: learned embedding of the distance to the current encounter). */
  recency?: 'none' | 'position';
  /** Wide term (`linear`: a linear function of the logistic-regression baseline's features added to the logits). */
  wide?: 'none' | 'linear' | 'hidden';
  /** Adam learning rate of the wide tables (default: learningRate). */
  wideLearningRate?: number;
  /** L2 penalty on the wide tables (default 0). */
  wideL2?: number;
  /** Dropout on the wide 'hidden' branch's units while training (default 0). */
  wideDropout?: number;
}

/**
 * What `src/model/student/recommender.ts` exports so that `leader-cds evaluate --methods leader-s`
 * can build the student without a static dependency on it.
 */
export interface StudentRecommenderModule {
  createStudentRecommender(options: StudentMethodOptions): Recommender | Promise<Recommender>;
}
