// Model stages of retraining: distil the student into a model directory, then evaluate it against the served
// model and the baselines on the same patient-level test split.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InputArtifact, StageImpl } from './engine.ts';
import type { MergeOutput } from './data-stages.ts';
import type { EvaluationReport, MethodInput } from '../eval/harness.ts';
import type { GateDecision, GatePolicy } from './gate.ts';
import type { TeacherFeaturesOutput, TeacherOutput } from './teacher-stages.ts';

/** Train/validation/test fractions shared by distillation and evaluation, so the test patients are never trained on. */
export const SPLIT = { train: 0.8, validation: 0.1, test: 0.1 } as const;

export interface DistilParams {
  mapping: string;
  mappingHash: string;
  seed: number;
  dim: number;
  epochs: number;
  patience: number;
  batchSize: number;
  alpha: number;
  beta: number;
  backend: string;
  modelVersion: string;
  teacherFeatures?: string;
}

export interface DistilOutput {
  modelDir: string;
  modelVersion: string;
  metrics: { validation?: unknown; test?: unknown };
  samplesPerSecond: number;
}

function datasetPath(inputs: Record<string, InputArtifact>): string {
  const dataset = inputs.dataset!;
  return join(dataset.ref.dir, (dataset.output as MergeOutput).file);
}

export const distilStage: StageImpl<DistilParams, DistilOutput> = {
  name: 'distil',
  version: 1,
  async run(params, inputs, ctx) {
    const { readDataset } = await import('../dataset/io.ts');
    const { loadMapping } = await import('../mapping/load.ts');
    const { trainModelDirectory } = await import('../model/student/train-directory.ts');
    const dataset = await readDataset(datasetPath(inputs));
    const mapping = await loadMapping(params.mapping);
    const modelDir = join(ctx.dir, 'model');
    // With the teacher on, its features come as an input artifact (so they are part of this stage's key).
    const features = inputs.features;
    const teacherFeatures = features ? join(features.ref.dir, (features.output as TeacherFeaturesOutput).dir) : params.teacherFeatures;
    const result = await trainModelDirectory(dataset, {
      out: modelDir,
      mapping,
      split: SPLIT,
      seed: params.seed,
      dim: params.dim,
      epochs: params.epochs,
      patience: params.patience,
      batchSize: params.batchSize,
      alpha: params.alpha,
      beta: params.beta,
      backend: params.backend,
      modelVersion: params.modelVersion,
      ...(teacherFeatures ? { teacherFeatures } : {}),
      onProgress: (e) => {
        if (e.type === 'epoch') ctx.progress(e.epoch / e.epochs, `epoch ${e.epoch}/${e.epochs} valid PR-AUC ${e.validPrAuc?.toFixed(4) ?? '-'}`);
      },
    });
    return { modelDir: 'model', modelVersion: result.manifest.modelVersion, metrics: result.manifest.metrics, samplesPerSecond: result.manifest.training.samplesPerSecond ?? 0 };
  },
};

export interface EvaluateParams {
  mapping: string;
  mappingHash: string;
  seed: number;
  rounds: number;
  baselines: string[];
  /** The served model's folder when one is served (its content hash keeps the key honest). */
  served?: { dir: string; version: string; sha256: string };
  /** Prompts per onnxruntime batch when the run's teacher (input `teacher`) is scored too. */
  teacherBatchSize?: number;
}

export interface EvaluateOutput {
  report: string;
  html: string;
  candidate: string;
  served?: string;
}

export const evaluateStage: StageImpl<EvaluateParams, EvaluateOutput> = {
  name: 'evaluate',
  version: 1,
  async run(params, inputs, ctx) {
    const { readDataset } = await import('../dataset/io.ts');
    const { loadMapping } = await import('../mapping/load.ts');
    const { evaluate } = await import('../eval/harness.ts');
    const { methodFactory } = await import('../eval/registry.ts');
    const { renderHtmlReport } = await import('../eval/report-html.ts');
    const { PretrainedModelMethod } = await import('./pretrained-method.ts');
    const dataset = await readDataset(datasetPath(inputs));
    const mapping = await loadMapping(params.mapping);
    const candidate = inputs.candidate!;
    const candidateDir = join(candidate.ref.dir, (candidate.output as DistilOutput).modelDir);
    const pretrained = (name: string, dir: string) => ({ name, create: () => new PretrainedModelMethod(name, dir) });
    const methods: MethodInput[] = [pretrained('candidate', candidateDir)];
    if (params.served) methods.push(pretrained('served', params.served.dir));
    const teacher = inputs.teacher;
    if (teacher) {
      const { PretrainedTeacherMethod } = await import('./pretrained-teacher-method.ts');
      const dir = join(teacher.ref.dir, (teacher.output as TeacherOutput).dir);
      methods.push({ name: 'leader-t', create: () => new PretrainedTeacherMethod('leader-t', dir, dataset.names, params.teacherBatchSize) });
    }
    for (const name of params.baselines) methods.push({ name, create: await methodFactory(name) });
    const report: EvaluationReport = await evaluate({
        dataset,
        methods,
        split: { kind: 'holdout', ...SPLIT },
        rounds: params.rounds,
        seed: params.seed,
        interacts: (a, b) => mapping.interacts(a, b),
        onProgress: (e) => {
          if (e.type === 'method-done') ctx.progress(0.5, `${e.method}: PR-AUC ${e.prAuc?.toFixed(4) ?? '-'}`);
        },
      });
    await writeFile(join(ctx.dir, 'report.json'), JSON.stringify(report, null, 2));
    await writeFile(join(ctx.dir, 'report.html'), renderHtmlReport(report));
    return { report: 'report.json', html: 'report.html', candidate: (candidate.output as DistilOutput).modelVersion, ...(params.served ? { served: params.served.version } : {}) };
  },
};

export type { GateDecision, GatePolicy };
