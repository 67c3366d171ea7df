// Dataset -> trained, exported, scored model directory: what `leader-cds train` and the retraining pipeline share.
import type { Dataset, DatasetRecord } from '../../dataset/types.ts';
import type { FitProgress } from '../../eval/method.ts';
import { splitByPatient } from '../../eval/splits.ts';
import type { LoadedMapping } from '../../mapping/types.ts';
import { DEFAULT_THRESHOLD, type ModelManifest } from '../runtime/manifest.ts';
import { StudentRuntime } from '../runtime/session.ts';
import { initBackend, parseBackendChoice, type BackendInfo } from '../tf/backend.ts';
import { buildModelFiles, saveModel } from './artifact.ts';
import { defaultStudentConfig, type StudentConfig } from './config.ts';
import { heldOutMetrics } from './evaluate.ts';
import { chooseThreshold } from '../../eval/threshold.ts';
import { readTeacherFeatures } from './teacher-features.ts';
import { trainStudent, TrainingError, type TrainReport } from './train.ts';

export interface TrainDirectoryOptions {
  out: string;
  mapping?: LoadedMapping;
  split?: { train: number; validation: number; test: number };
  teacherFeatures?: string;
  alpha: number;
  beta: number;
  epochs: number;
  patience: number;
  batchSize: number;
  dim: number;
  /** Wide term (docs/student-model.md); default: defaultStudentConfig's. */
  wide?: StudentConfig['wide'];
  /** Adam learning rate of the wide tables; default: learningRate. */
  wideLearningRate?: number;
  /** L2 penalty on the wide tables; default 0. */
  wideL2?: number;
  /** Dropout on the wide 'hidden' branch's units while training; default 0. */
  wideDropout?: number;
  maxVisits?: number;
  maxCodes?: number;
  learningRate?: number;
  /** Manifest threshold: `validation` (default) picks the grid cut with the best validation Jaccard; `fixed` keeps 0.3. */
  thresholdFrom?: 'fixed' | 'validation';
  seed: number;
  backend: string;
  modelVersion?: string;
  createdAt?: string;
  onProgress?: (event: FitProgress) => void;
  onStart?: (info: { train: number; trainPatients: number; validation: number; test: number; backend: BackendInfo }) => void;
}

export interface TrainDirectoryResult {
  manifest: ModelManifest;
  onnxBytes: number;
  report: TrainReport;
  backend: BackendInfo;
  metrics: NonNullable<ModelManifest['metrics']>;
}

export async function trainModelDirectory(dataset: Dataset, opts: TrainDirectoryOptions): Promise<TrainDirectoryResult> {
  const backendChoice = parseBackendChoice(opts.backend);
  if (opts.alpha > 0 && !opts.teacherFeatures) throw new TrainingError(`alpha ${opts.alpha} (distillation) needs teacher features`);
  if (dataset.records.length === 0) throw new TrainingError('the dataset has no records');
  if (opts.mapping && opts.mapping.labelSpace !== dataset.header.labelSpace)
    throw new TrainingError(`the mapping has label space '${opts.mapping.labelSpace}', the dataset '${dataset.header.labelSpace}'`);
  const teacher = opts.teacherFeatures ? await readTeacherFeatures(opts.teacherFeatures) : undefined;
  let split;
  try {
    split = splitByPatient(dataset.records, opts.split ?? { train: 0.8, validation: 0.1, test: 0.1 }, opts.seed);
  } catch (err) {
    throw new TrainingError((err as Error).message);
  }
  const backend = await initBackend(backendChoice);
  const trainPatients = new Set(split.train.map((r) => r.patientId)).size;
  opts.onStart?.({ train: split.train.length, trainPatients, validation: split.validation.length, test: split.test.length, backend });
  const config: StudentConfig = {
    ...defaultStudentConfig,
    dim: opts.dim,
    ...(opts.wide ? { wide: opts.wide } : {}),
    ...(opts.maxVisits ? { maxVisits: opts.maxVisits } : {}),
    ...(opts.maxCodes ? { maxCodes: opts.maxCodes } : {}),
  };
  const learningRate = opts.learningRate ?? 5e-4;
  const trained = await trainStudent(split.train, split.validation, {
    config,
    alpha: opts.alpha,
    beta: opts.beta,
    epochs: opts.epochs,
    patience: opts.patience,
    batchSize: opts.batchSize,
    learningRate,
    ...(opts.wideLearningRate !== undefined ? { wideLearningRate: opts.wideLearningRate } : {}),
    ...(opts.wideL2 !== undefined ? { wideL2: opts.wideL2 } : {}),
    ...(opts.wideDropout !== undefined ? { wideDropout: opts.wideDropout } : {}),
    seed: opts.seed,
    ...(teacher ? { teacher } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const r = trained.report;
  const meta = {
    ...(opts.modelVersion ? { modelVersion: opts.modelVersion } : {}),
    ...(opts.createdAt ? { createdAt: opts.createdAt } : {}),
    ...(opts.mapping ? { mapping: opts.mapping } : {}),
    training: {
      datasetFingerprint: dataset.summary.fingerprint,
      records: split.train.length,
      patients: trainPatients,
      seed: opts.seed,
      alpha: opts.alpha,
      beta: opts.beta,
      epochs: r.epochsRun,
      ...(r.bestEpoch !== undefined ? { bestEpoch: r.bestEpoch } : {}),
      batchSize: opts.batchSize,
      learningRate,
      backend: backend.name,
      samplesPerSecond: Math.round(r.samplesPerSecond),
      ...(teacher ? { teacherFeatures: teacher.index.source } : {}),
      curve: (r.curve ?? []).map((c) => ({ ...c, trainLoss: Math.round(c.trainLoss * 1e5) / 1e5, ...(c.validPrAuc !== undefined ? { validPrAuc: Math.round(c.validPrAuc * 1e4) / 1e4 } : {}) })),
    },
  };
  // Held-out figures come from the exported graph on onnxruntime: the numbers describe what is served.
  const draft = buildModelFiles(trained, meta);
  const runtime = await StudentRuntime.fromFiles(draft, { provider: 'cpu' });
  const probabilities = async (records: readonly DatasetRecord[]) => {
    const out: Float32Array[] = [];
    const L = trained.vocab.labels.length;
    for (let i = 0; i < records.length; i += 256) {
      const part = records.slice(i, i + 256);
      const { probabilities } = await runtime.runRaw(part);
      for (let j = 0; j < part.length; j++) out.push(probabilities.slice(j * L, (j + 1) * L));
    }
    return out;
  };
  const validScores = await probabilities(split.validation);
  const testScores = await probabilities(split.test);
  await runtime.close();
  const labelRow = new Map(trained.vocab.labels.map((l, i) => [l, i] as const));
  const truths = split.validation.map((r) => new Set(r.labels.map((l) => labelRow.get(l)).filter((i): i is number => i !== undefined)));
  const threshold = (opts.thresholdFrom ?? 'validation') === 'validation' ? chooseThreshold(validScores, truths, DEFAULT_THRESHOLD).threshold : DEFAULT_THRESHOLD;
  const metrics = {
    validation: heldOutMetrics(validScores, split.validation, trained.vocab.labels, threshold),
    test: heldOutMetrics(testScores, split.test, trained.vocab.labels, threshold),
  };
  const files = buildModelFiles(trained, { ...meta, createdAt: draft.manifest.createdAt, metrics, threshold });
  await saveModel(opts.out, files);
  return { manifest: files.manifest, onnxBytes: files.onnx.length, report: r, backend, metrics };
}
