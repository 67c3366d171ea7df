// LEADER(S) as a Recommender, so that evaluation runs it (with and without distillation) next to the baselines.
// Prediction goes through the exported ONNX graph: what is evaluated is what gets served.
import type { DatasetRecord } from '../../dataset/types.ts';
import type { FitContext, FitReport, Recommender, StudentMethodOptions } from '../../eval/method.ts';
import { initBackend, type BackendName } from '../tf/backend.ts';
import { StudentRuntime } from '../runtime/session.ts';
import { DEFAULT_THRESHOLD, type ModelManifest } from '../runtime/manifest.ts';
import { buildModelFiles } from './artifact.ts';
import { defaultStudentConfig, type StudentConfig } from './config.ts';
import { readTeacherFeatures } from './teacher-features.ts';
import { chooseThreshold } from '../../eval/threshold.ts';
import { defaultTrainOptions, trainStudent } from './train.ts';

export interface StudentRecommenderOptions extends StudentMethodOptions {
  /** Shape overrides beyond the method options' dim, hidden, recency and wide (which win over these). */
  config?: Partial<StudentConfig>;
  backend?: BackendName | 'auto';
  /** Rows per onnxruntime run when predicting. */
  predictBatch?: number;
}

export class StudentRecommender implements Recommender {
  readonly name: string;
  threshold = DEFAULT_THRESHOLD;
  private runtime: StudentRuntime | undefined;

  constructor(private readonly options: StudentRecommenderOptions) {
    this.name = options.name;
  }

  async fit(train: readonly DatasetRecord[], validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const o = this.options;
    const backend = await initBackend(o.backend ?? 'auto');
    ctx.onProgress?.({ type: 'message', text: `${this.name}: training on tfjs backend ${backend.name}` });
    // With teacher features and no explicit weight, distil with the paper's MIMIC-III weight.
    const alpha = o.alpha ?? (o.teacherStates ? 0.4 : defaultTrainOptions.alpha);
    if (alpha > 0 && !o.teacherStates) throw new Error(`${this.name}: alpha ${alpha} needs teacher features (teacherStates)`);
    const teacher = alpha > 0 && o.teacherStates ? await readTeacherFeatures(o.teacherStates) : undefined;
    const config: StudentConfig = {
      ...defaultStudentConfig,
      ...o.config,
      ...(o.dim !== undefined ? { dim: o.dim } : {}),
      ...(o.hidden !== undefined ? { hidden: o.hidden } : {}),
      ...(o.recency !== undefined ? { recency: o.recency } : {}),
      ...(o.wide !== undefined ? { wide: o.wide } : {}),
    };
    if (config.dim % config.heads !== 0) throw new Error(`${this.name}: dim ${config.dim} must be a multiple of the ${config.heads} heads`);
    const beta = o.beta ?? defaultTrainOptions.beta;
    const trained = await trainStudent(train, validation, {
      config,
      alpha,
      beta,
      epochs: o.epochs ?? defaultTrainOptions.epochs,
      patience: o.patience ?? defaultTrainOptions.patience,
      batchSize: o.batchSize ?? defaultTrainOptions.batchSize,
      learningRate: o.learningRate ?? defaultTrainOptions.learningRate,
      ...(o.wideLearningRate !== undefined ? { wideLearningRate: o.wideLearningRate } : {}),
      ...(o.wideL2 !== undefined ? { wideL2: o.wideL2 } : {}),
      ...(o.wideDropout !== undefined ? { wideDropout: o.wideDropout } : {}),
      seed: ctx.seed,
      labels: ctx.labels,
      ...(teacher ? { teacher } : {}),
      ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
    });
    const files = buildModelFiles(trained, {
      training: {
        datasetFingerprint: 'in-memory',
        records: train.length,
        patients: new Set(train.map((r) => r.patientId)).size,
        seed: ctx.seed,
        alpha,
        beta,
        epochs: trained.report.epochsRun,
        ...(trained.report.bestEpoch !== undefined ? { bestEpoch: trained.report.bestEpoch } : {}),
        batchSize: o.batchSize ?? defaultTrainOptions.batchSize,
        learningRate: o.learningRate ?? defaultTrainOptions.learningRate,
        backend: backend.name,
        curve: trained.report.curve ?? [],
      },
    });
    await this.runtime?.close();
    this.runtime = await StudentRuntime.fromFiles(files, { provider: 'cpu' });
    if (o.thresholdFrom === 'validation' && validation.length > 0) {
      const index = new Map(ctx.labels.map((l, i) => [l, i]));
      const truths = validation.map((r) => new Set(r.labels.map((l) => index.get(l)).filter((i): i is number => i !== undefined)));
      this.threshold = chooseThreshold(await this.predict(validation), truths, DEFAULT_THRESHOLD).threshold;
      ctx.onProgress?.({ type: 'message', text: `${this.name}: threshold ${this.threshold} chosen on validation` });
    }
    return trained.report;
  }

  /** The manifest of the fitted model (shape, training settings), for reports and checks. */
  get manifest(): ModelManifest | undefined {
    return this.runtime?.manifest;
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    if (!this.runtime) throw new Error(`${this.name}: predict before fit`);
    const chunk = this.options.predictBatch ?? 256;
    const labels = this.runtime.labels.length;
    const out: Float32Array[] = [];
    for (let i = 0; i < records.length; i += chunk) {
      const part = records.slice(i, i + chunk);
      const { probabilities } = await this.runtime.runRaw(part);
      for (let j = 0; j < part.length; j++) out.push(probabilities.slice(j * labels, (j + 1) * labels));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.runtime?.close();
    this.runtime = undefined;
  }
}

/** The StudentRecommenderModule contract (src/eval/method.ts): `leader-s` and `leader-s-nodistill`. */
export function createStudentRecommender(options: StudentMethodOptions): Recommender {
  return new StudentRecommender(options);
}
