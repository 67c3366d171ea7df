// LEADER(T) as a Recommender (src/eval/method.ts), so the evaluation harness can score the teacher
// like any other method: fit = `teacher train` on the fold's training records, predict = the exported
// teacher on onnxruntime.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Dataset, DatasetRecord } from '../dataset/types.ts';
import type { FitContext, FitReport, Recommender } from '../eval/method.ts';
import { loadTeacher, type LoadedTeacher } from './artifact.ts';
import { exportTeacherOnnx } from './onnx-export.ts';
import { OnnxTeacher } from './onnx-runner.ts';
import { trainTeacher, type TeacherTrainOptions } from './pipeline.ts';

export interface TeacherMethodOptions {
  name?: string;
  /** Display names (the dataset file's `names`): the prompts need them. */
  names: Readonly<Record<string, string>>;
  /** Where fitted teachers go; default a temporary folder removed by close(). */
  workDir?: string;
  /** Training settings; the defaults are `teacher train`'s. */
  train?: Partial<Omit<TeacherTrainOptions, 'dataset' | 'datasetFile' | 'out' | 'scratch'>> & { scratch?: Partial<TeacherTrainOptions['scratch']> };
}

/** The paper's teacher threshold. */
export const TEACHER_THRESHOLD = 0.5;

export class TeacherRecommender implements Recommender {
  readonly name: string;
  readonly threshold = TEACHER_THRESHOLD;
  private teacher: LoadedTeacher | undefined;
  private runtime: OnnxTeacher | undefined;
  private labels: readonly string[] = [];
  private readonly workDir: string;
  private readonly ownsWorkDir: boolean;

  constructor(private readonly options: TeacherMethodOptions) {
    this.name = options.name ?? 'leader-t';
    this.ownsWorkDir = !options.workDir;
    this.workDir = options.workDir ?? mkdtempSync(path.join(tmpdir(), 'leader-t-'));
  }

  async fit(train: readonly DatasetRecord[], _validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const t0 = performance.now();
    this.labels = ctx.labels;
    // Every label of the space gets a head row, in the harness's order, even if this fold never gives it.
    const labelFrequencies: Record<string, number> = Object.fromEntries(ctx.labels.map((l) => [l, 0]));
    for (const r of train) for (const l of r.labels) labelFrequencies[l] = (labelFrequencies[l] ?? 0) + 1;
    const dataset: Dataset = {
      header: { type: 'header', format: 'leader-dataset', version: 1, mapping: 'evaluation-fold', labelSpace: 'evaluation', createdAt: new Date(0).toISOString() },
      records: [...train],
      names: { ...this.options.names },
      summary: {
        type: 'summary',
        patients: new Set(train.map((r) => r.patientId)).size,
        encounters: train.length,
        singleEncounterPatients: 0,
        multiEncounterPatients: 0,
        skippedEncounters: {},
        labelFrequencies,
        fingerprint: 'evaluation-fold',
      },
    };
    const out = mkdtempSync(path.join(this.workDir, 'fold-'));
    const o = this.options.train ?? {};
    const result = trainTeacher({
      dataset,
      datasetFile: '(evaluation fold)',
      out,
      ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
      scratch: {
        tokenizerVocab: 2000,
        model: {},
        pretrainSteps: 200,
        pretrainLearningRate: 1e-3,
        ...o.scratch,
      },
      ...(o.template ? { template: o.template } : {}),
      maxTokens: o.maxTokens ?? 2048,
      finetune: o.finetune ?? (o.checkpoint ? 'lora' : 'full'),
      ...(o.lora ? { lora: o.lora } : {}),
      steps: o.steps ?? 300,
      batchSize: o.batchSize ?? 8,
      accumulation: o.accumulation ?? 4,
      learningRate: o.learningRate ?? (o.checkpoint ? 2e-4 : 1e-3),
      warmupSteps: o.warmupSteps ?? 0,
      seed: ctx.seed,
      resume: false,
      checkpointEvery: o.checkpointEvery ?? 1_000_000,
      onStep: (phase, s) => {
        if (phase === 'finetune' && s.step % Math.max(1, Math.round(s.steps / 10)) === 0) {
          ctx.onProgress?.({ type: 'epoch', epoch: s.step, epochs: s.steps, trainLoss: s.loss, samplesPerSecond: s.samples / s.seconds });
        }
      },
      onInfo: (text) => ctx.onProgress?.({ type: 'message', text }),
    });
    await this.runtime?.close();
    this.teacher?.decoder.dispose();
    this.teacher = loadTeacher(out);
    const c = this.teacher.decoder.config;
    const model = exportTeacherOnnx(this.teacher.decoder);
    // Scoring runs on onnxruntime: the tfjs weights are no longer needed.
    this.teacher.decoder.dispose();
    this.runtime = await OnnxTeacher.create(model, { maxPositions: c.maxPositions, hidden: c.hiddenSize, labels: this.teacher.manifest.labels.length });
    return {
      curve: result.finetune.losses.map((trainLoss, i) => ({ epoch: i + 1, trainLoss })),
      seconds: (performance.now() - t0) / 1000,
    };
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    if (!this.teacher || !this.runtime) throw new Error(`${this.name}: predict before fit`);
    const own = this.teacher.manifest.labels;
    const L = own.length;
    const index = this.labels.map((l) => own.indexOf(l));
    const { probabilities } = await this.runtime.runRecords(this.teacher, records, this.options.names);
    return records.map((_, i) => Float32Array.from(index, (j) => (j >= 0 ? probabilities[i * L + j]! : 0)));
  }

  async close(): Promise<void> {
    await this.runtime?.close();
    this.runtime = undefined;
    if (this.ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }
}

export function createTeacherRecommender(options: TeacherMethodOptions): TeacherRecommender {
  return new TeacherRecommender(options);
}
