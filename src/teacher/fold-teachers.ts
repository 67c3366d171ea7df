// Teachers fitted per evaluation fold on that fold's training records only, so that neither the teacher
// nor a student distilled from it ever sees the fold's test patients. Methods of one fold (leader-t,
// leader-s, leader-s-features) share one teacher: it is keyed by the training records, the seed and the
// settings, fitted once and reused; its features are computed once per record set.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Dataset, DatasetRecord } from '../dataset/types.ts';
import type { FitContext } from '../eval/method.ts';
import { initBackend, type BackendName } from '../model/tf/backend.ts';
import { loadTeacher, type LoadedTeacher } from './artifact.ts';
import { exportTeacherOnnx } from './onnx-export.ts';
import { OnnxTeacher } from './onnx-runner.ts';
import { trainTeacher, type ScratchOptions, type TeacherTrainOptions, type TeacherTrainResult } from './pipeline.ts';

/** Teacher training settings; absent fields take the defaults of `teacherTrainDefaults`. */
export type TeacherSettings = Partial<Omit<TeacherTrainOptions, 'dataset' | 'datasetFile' | 'out' | 'scratch' | 'seed' | 'resume' | 'onStep' | 'onInfo'>> & {
  scratch?: Partial<ScratchOptions>;
};

export interface FoldTeachersOptions {
  /** Display names (the dataset file's `names`); a function when the dataset is read after the methods are built. */
  names: Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>);
  settings?: TeacherSettings;
  /** tfjs backend for teacher training (default auto). */
  backend?: BackendName | 'auto';
  /** Where fitted teachers go; default a temporary folder removed by dispose(). */
  workDir?: string;
}

/** A teacher fitted on one fold's training records, exported for onnxruntime. */
export interface FittedTeacher {
  key: string;
  dir: string;
  /** Tokenizer and manifest (its tfjs weights are released once exported). */
  teacher: LoadedTeacher;
  onnx: Uint8Array;
  dims: { maxPositions: number; hidden: number; labels: number };
  /** The patients and records it was trained on. */
  patients: ReadonlySet<string>;
  records: number;
  curve: Array<{ epoch: number; trainLoss: number }>;
  seconds: number;
  parameters: number;
}

/** Teacher features of a record set, rows in record order. */
export interface FoldFeatures {
  dim: number;
  rows: Array<{ patientId: string; encounterId: string }>;
  data: Float32Array;
  source: string;
}

/** The settings `teacher train` uses from scratch, scaled for a fold. */
export function teacherTrainDefaults(s: TeacherSettings): Omit<TeacherTrainOptions, 'dataset' | 'datasetFile' | 'out' | 'seed' | 'onStep' | 'onInfo'> {
  const lora = s.checkpoint !== undefined;
  return {
    ...(s.checkpoint ? { checkpoint: s.checkpoint } : {}),
    scratch: { tokenizerVocab: 2000, model: {}, pretrainSteps: 200, pretrainLearningRate: 1e-3, ...s.scratch },
    ...(s.template ? { template: s.template } : {}),
    maxTokens: s.maxTokens ?? 2048,
    finetune: s.finetune ?? (lora ? 'lora' : 'full'),
    ...(s.lora ? { lora: s.lora } : {}),
    steps: s.steps ?? 300,
    batchSize: s.batchSize ?? 8,
    accumulation: s.accumulation ?? 4,
    learningRate: s.learningRate ?? (lora ? 2e-4 : 1e-3),
    warmupSteps: s.warmupSteps ?? 0,
    resume: false,
    checkpointEvery: s.checkpointEvery ?? 1_000_000,
  };
}

function recordsKey(records: readonly DatasetRecord[]): string {
  const h = createHash('sha256');
  for (const k of records.map((r) => `${r.patientId}\u0000${r.encounterId}`).sort()) h.update(k).update('\u0001');
  return h.digest('hex');
}

/** The fold's training records as a dataset the teacher pipeline accepts; every label of the space gets a head row. */
export function foldDataset(train: readonly DatasetRecord[], labels: readonly string[], names: Readonly<Record<string, string>>): Dataset {
  const labelFrequencies: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
  for (const r of train) for (const l of r.labels) labelFrequencies[l] = (labelFrequencies[l] ?? 0) + 1;
  return {
    header: { type: 'header', format: 'leader-dataset', version: 1, mapping: 'evaluation-fold', labelSpace: 'evaluation', createdAt: new Date(0).toISOString() },
    records: [...train],
    names: { ...names },
    summary: {
      type: 'summary',
      patients: new Set(train.map((r) => r.patientId)).size,
      encounters: train.length,
      singleEncounterPatients: 0,
      multiEncounterPatients: 0,
      skippedEncounters: {},
      labelFrequencies,
      fingerprint: `evaluation-fold-${recordsKey(train).slice(0, 16)}`,
    },
  };
}

export class FoldTeachers {
  private readonly teachers = new Map<string, Promise<FittedTeacher>>();
  private readonly features = new Map<string, Promise<FoldFeatures>>();
  private workDir: string | undefined;
  private readonly ownsWorkDir: boolean;
  private count = 0;

  constructor(private readonly options: FoldTeachersOptions) {
    this.ownsWorkDir = !options.workDir;
    this.workDir = options.workDir;
  }

  get settings(): TeacherSettings {
    return this.options.settings ?? {};
  }

  names(): Readonly<Record<string, string>> {
    const n = this.options.names;
    return typeof n === 'function' ? n() : n;
  }

  /** A fresh path under the work folder (for a method's own files, e.g. its features folder). */
  newPath(prefix: string): string {
    // Created on first use, so a pool that never fits leaves nothing behind.
    this.workDir ??= mkdtempSync(path.join(tmpdir(), 'leader-fold-teachers-'));
    return path.join(this.workDir, `${prefix}-${++this.count}`);
  }

  /** The teacher for these training records: fitted on them alone, or reused when already fitted for them. */
  teacherFor(train: readonly DatasetRecord[], ctx: FitContext): Promise<FittedTeacher> {
    const key = createHash('sha256')
      .update(recordsKey(train))
      .update(JSON.stringify({ seed: ctx.seed, labels: ctx.labels, settings: this.settings }))
      .digest('hex');
    const known = this.teachers.get(key);
    if (known) {
      ctx.onProgress?.({ type: 'message', text: 'teacher: reusing the teacher fitted on these training records' });
      return known;
    }
    const fitted = this.fit(key, train, ctx);
    this.teachers.set(key, fitted);
    // A failed fit is not cached: the next method retries and reports its own error.
    fitted.catch(() => this.teachers.delete(key));
    return fitted;
  }

  /** Teacher features of `records` (normally the fold's training records), computed once per teacher and record set. */
  featuresFor(teacher: FittedTeacher, records: readonly DatasetRecord[]): Promise<FoldFeatures> {
    const key = `${teacher.key}:${recordsKey(records)}`;
    let f = this.features.get(key);
    if (!f) {
      f = this.computeFeatures(teacher, records);
      this.features.set(key, f);
      f.catch(() => this.features.delete(key));
    }
    return f;
  }

  /** Trains one teacher into `out`; the single place where a teacher sees records (tests record around it). */
  protected train(options: TeacherTrainOptions): TeacherTrainResult {
    return trainTeacher(options);
  }

  private async fit(key: string, train: readonly DatasetRecord[], ctx: FitContext): Promise<FittedTeacher> {
    const t0 = performance.now();
    const backend = await initBackend(this.options.backend ?? 'auto');
    ctx.onProgress?.({ type: 'message', text: `teacher: fitting on ${train.length} training records (tfjs ${backend.name})` });
    const out = this.newPath('teacher');
    const result = this.train({
      ...teacherTrainDefaults(this.settings),
      dataset: foldDataset(train, ctx.labels, this.names()),
      datasetFile: '(evaluation fold)',
      out,
      seed: ctx.seed,
      onStep: (phase, s) => {
        if (phase === 'finetune' && s.step % Math.max(1, Math.round(s.steps / 10)) === 0) {
          ctx.onProgress?.({ type: 'epoch', epoch: s.step, epochs: s.steps, trainLoss: s.loss, samplesPerSecond: s.samples / s.seconds });
        }
      },
      onInfo: (text) => ctx.onProgress?.({ type: 'message', text: `teacher: ${text}` }),
    });
    const teacher = loadTeacher(out);
    const c = teacher.decoder.config;
    let onnx: Uint8Array;
    try {
      onnx = exportTeacherOnnx(teacher.decoder, `LEADER(T) teacher fitted on an evaluation fold (${train.length} records)`);
    } finally {
      // Scoring runs on onnxruntime: the tfjs weights are no longer needed.
      teacher.decoder.dispose();
    }
    return {
      key,
      dir: out,
      teacher,
      onnx,
      dims: { maxPositions: c.maxPositions, hidden: c.hiddenSize, labels: teacher.manifest.labels.length },
      patients: new Set(train.map((r) => r.patientId)),
      records: train.length,
      curve: result.finetune.losses.map((trainLoss, i) => ({ epoch: i + 1, trainLoss })),
      seconds: (performance.now() - t0) / 1000,
      parameters: result.parameters,
    };
  }

  private async computeFeatures(t: FittedTeacher, records: readonly DatasetRecord[]): Promise<FoldFeatures> {
    const runtime = await OnnxTeacher.create(t.onnx, t.dims);
    try {
      const { features } = await runtime.runRecords(t.teacher, records, this.names());
      return {
        dim: t.dims.hidden,
        rows: records.map((r) => ({ patientId: r.patientId, encounterId: r.encounterId })),
        data: features,
        source: `leader-teacher fitted per fold on ${t.records} training records of ${t.patients.size} patients (${t.teacher.manifest.baseSource} base, ${t.teacher.manifest.finetune} fine-tuning)`,
      };
    } finally {
      await runtime.close();
    }
  }

  /** Removes the fitted teachers (and the work folder when it was ours). */
  dispose(): void {
    this.teachers.clear();
    this.features.clear();
    if (this.ownsWorkDir && this.workDir) rmSync(this.workDir, { recursive: true, force: true });
    if (this.ownsWorkDir) this.workDir = undefined;
  }
}
