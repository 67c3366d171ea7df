// One retraining run: the plan (export -> partition -> build -> merge -> [teacher -> teacher features] -> distil ->
// evaluate) on any executor,
// then register the candidate, apply the promotion gate and promote. The served model only ever changes to a
// candidate that passed the gate.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ArtifactStore } from './artifacts.ts';
import type { RetrainConfig } from './config.ts';
import { buildShardStage, exportStage, folderFingerprint, folderStage, mergeDatasetStage, partitionStage, type BulkSourceParams, type FolderSourceParams, type SourceOutput } from './data-stages.ts';
import { runPlan, StageRegistry, type Executor, type PlanStep, type RunEvent } from './engine.ts';
import { promotionGate, type GateDecision } from './gate.ts';
import { distilStage, evaluateStage, SPLIT, type DistilOutput, type EvaluateOutput } from './model-stages.ts';
import type { MergeOutput } from './data-stages.ts';
import { ModelRegistry } from './registry.ts';
import { checkpointFingerprint, teacherFeaturesStage, teacherStage, type TeacherFeaturesParams, type TeacherOutput, type TeacherParams } from './teacher-stages.ts';
import type { EvaluationReport } from '../eval/harness.ts';

export function leaderStages(): StageRegistry {
  return new StageRegistry()
    .add(exportStage)
    .add(folderStage)
    .add(partitionStage)
    .add(buildShardStage)
    .add(mergeDatasetStage)
    .add(teacherStage)
    .add(teacherFeaturesStage)
    .add(distilStage)
    .add(evaluateStage);
}

export type RetrainEvent =
  | RunEvent
  | { type: 'registered'; version: string }
  | { type: 'gate'; decision: GateDecision }
  | { type: 'promoted'; from: string | null; to: string }
  | { type: 'not-promoted'; reason: string };

export interface RetrainResult {
  candidate: string;
  decision: GateDecision;
  promoted: boolean;
  dataset: MergeOutput['summary'];
  evaluation: string;
  report: string;
  /** The run's teacher, when `teacher.enabled`. */
  teacher?: TeacherOutput & { path: string };
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** The plan of a run; keys come from its parameters, so equal configurations share finished stages. */
export async function retrainPlan(config: RetrainConfig, served: { dir: string; version: string } | undefined): Promise<PlanStep[]> {
  const mapping = resolve(config.mapping);
  const mappingHash = (await sha256File(mapping)).slice(0, 24);
  const { loadMapping } = await import('../mapping/load.ts');
  const loaded = await loadMapping(mapping);
  const snapshot = config.snapshot ?? new Date().toISOString();
  const source: PlanStep =
    config.source.kind === 'bulk'
      ? {
          id: 'export',
          stage: 'export',
          params: {
            ...config.source,
            ...(config.source.auth ? { auth: { ...config.source.auth, keyFile: resolve(config.source.auth.keyFile) } } : {}),
            snapshot,
          } satisfies BulkSourceParams,
        }
      : {
          id: 'import',
          stage: 'import-folder',
          params: { kind: 'folder', path: resolve(config.source.path), fingerprint: await folderFingerprint(resolve(config.source.path)) } satisfies FolderSourceParams,
        };
  const partitions = config.partitions;
  const servedParams = served ? { dir: served.dir, version: served.version, sha256: (await sha256File(join(served.dir, 'model.onnx'))).slice(0, 24) } : undefined;
  const s = config.student;
  const t = config.teacher;
  const teacherSteps: PlanStep[] = t.enabled
    ? [
        {
          id: 'teacher',
          stage: 'teacher',
          params: {
            seed: t.seed,
            // The student's split and seed: the teacher never sees the patients the candidate is tested on.
            split: { ...SPLIT },
            ...(t.checkpoint ? { checkpoint: { path: resolve(t.checkpoint), fingerprint: await checkpointFingerprint(t.checkpoint) } } : {}),
            finetune: t.finetune ?? (t.checkpoint ? 'lora' : 'full'),
            steps: t.steps,
            batchSize: t.batchSize,
            accumulation: t.accumulation,
            learningRate: t.learningRate ?? ((t.finetune ?? (t.checkpoint ? 'lora' : 'full')) === 'lora' ? 2e-4 : 1e-3),
            warmupSteps: t.warmupSteps,
            maxTokens: t.maxTokens,
            scratch: t.scratch,
            backend: t.backend,
          } satisfies TeacherParams,
          inputs: { dataset: 'dataset' },
        },
        {
          id: 'teacher-features',
          stage: 'teacher-features',
          params: { seed: s.seed, split: { ...SPLIT }, batchSize: t.featureBatchSize } satisfies TeacherFeaturesParams,
          inputs: { dataset: 'dataset', teacher: 'teacher' },
        },
      ]
    : [];
  return [
    source,
    { id: 'partition', stage: 'partition', params: { partitions }, inputs: { source: source.id }, fanOut: { from: source.id, select: (o) => (o as SourceOutput).files } },
    {
      id: 'build',
      stage: 'build-shard',
      params: { mapping, mappingHash },
      inputs: { parts: 'partition' },
      fanOut: { from: source.id, select: () => Array.from({ length: partitions }, (_, i) => i) },
    },
    { id: 'dataset', stage: 'merge-dataset', params: { mapping: loaded.name, mappingHash, labelSpace: loaded.labelSpace, createdAt: snapshot }, inputs: { shards: 'build' } },
    ...teacherSteps,
    {
      id: 'distil',
      stage: 'distil',
      params: {
        mapping,
        mappingHash,
        seed: s.seed,
        dim: s.dim,
        epochs: s.epochs,
        patience: s.patience,
        batchSize: s.batchSize,
        alpha: t.enabled ? t.alpha : s.alpha,
        beta: s.beta,
        backend: s.backend,
        modelVersion: config.modelVersion ?? `leader-s-${snapshot.replace(/[^0-9]/g, '').slice(0, 14)}`,
      },
      inputs: { dataset: 'dataset', ...(t.enabled ? { features: 'teacher-features' } : {}) },
    },
    {
      id: 'evaluate',
      stage: 'evaluate',
      params: {
        mapping,
        mappingHash,
        seed: s.seed,
        rounds: config.evaluation.rounds,
        baselines: config.evaluation.baselines,
        ...(servedParams ? { served: servedParams } : {}),
        ...(t.enabled ? { teacherBatchSize: t.featureBatchSize } : {}),
      },
      inputs: { dataset: 'dataset', candidate: 'distil', ...(t.enabled ? { teacher: 'teacher' } : {}) },
    },
  ];
}

export async function runRetrain(config: RetrainConfig, executor: Executor, store: ArtifactStore, onEvent: (e: RetrainEvent) => void = () => {}): Promise<RetrainResult> {
  const registry = new ModelRegistry(config.registry);
  const served = await registry.currentDir();
  const plan = await retrainPlan(config, served);
  const results = await runPlan(plan, leaderStages(), store, executor, onEvent);
  const distil = results.get('distil')!;
  const evaluation = results.get('evaluate')!;
  const distilOut = distil.outputs[0] as DistilOutput;
  const evalOut = evaluation.outputs[0] as EvaluateOutput;
  const candidateDir = join(store.dirFor(distil.refs[0]!.stage, distil.refs[0]!.key), distilOut.modelDir);
  const evalDir = store.dirFor(evaluation.refs[0]!.stage, evaluation.refs[0]!.key);
  const reportPath = join(evalDir, evalOut.report);
  const entry = await registry.register(candidateDir, { evaluationFile: reportPath });
  onEvent({ type: 'registered', version: entry.version });
  const report = JSON.parse(await readFile(reportPath, 'utf8')) as EvaluationReport;
  const decision = promotionGate(report, 'candidate', served ? 'served' : undefined, {
    tolerance: { prAuc: config.gate.prAucTolerance, jaccard: config.gate.jaccardTolerance },
    ddiTolerance: config.gate.ddiTolerance,
  });
  await registry.recordGate(entry.version, { passed: decision.passed, reasons: decision.reasons });
  onEvent({ type: 'gate', decision });
  let promoted = false;
  if (!decision.passed) onEvent({ type: 'not-promoted', reason: 'the candidate did not pass the gate; the served model is unchanged' });
  else if (!config.promote) onEvent({ type: 'not-promoted', reason: 'promotion is off in this configuration' });
  else if (served?.version === entry.version) onEvent({ type: 'not-promoted', reason: `${entry.version} is already served` });
  else {
    const moved = await registry.promote(entry.version);
    promoted = true;
    if (config.notifyRedis) await (await import('./notify.ts')).publishPromotion(config.notifyRedis, moved.to);
    onEvent({ type: 'promoted', ...moved });
  }
  const dataset = (results.get('dataset')!.outputs[0] as MergeOutput).summary;
  const teacher = results.get('teacher');
  const teacherOut = teacher?.outputs[0] as TeacherOutput | undefined;
  return {
    candidate: entry.version,
    decision,
    promoted,
    dataset,
    evaluation: join(evalDir, evalOut.html),
    report: reportPath,
    ...(teacher && teacherOut ? { teacher: { ...teacherOut, path: join(store.dirFor(teacher.refs[0]!.stage, teacher.refs[0]!.key), teacherOut.dir) } } : {}),
  };
}
