// Teacher stages of retraining: `teacher` fine-tunes LEADER(T) on the training split (a local HF checkpoint with
// LoRA, or a small decoder from scratch) and exports it to ONNX; `teacher-features` runs the training records
// through it and writes the pooled states the student distils (docs/teacher-features.md).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { InputArtifact, StageImpl } from './engine.ts';
import type { MergeOutput } from './data-stages.ts';
import { SPLIT } from './model-stages.ts';
import { openTeacherScorer } from './teacher-scorer.ts';

export interface TeacherParams {
  seed: number;
  split: { train: number; validation: number; test: number };
  /** Absolute path of a local HF checkpoint and a fingerprint of its files (so a changed checkpoint is new work). */
  checkpoint?: { path: string; fingerprint: string };
  finetune: 'lora' | 'full';
  steps: number;
  batchSize: number;
  accumulation: number;
  learningRate: number;
  warmupSteps: number;
  maxTokens: number;
  scratch: { hidden: number; layers: number; kvHeads: number; context: number; vocab: number; pretrainSteps: number; pretrainLearningRate: number };
  backend: string;
}

export interface TeacherOutput {
  /** The teacher folder (teacher.json, weights, teacher.onnx), relative to the artifact. */
  dir: string;
  trainRecords: number;
  labels: number;
  hiddenSize: number;
  parameters: number;
  base: 'scratch' | 'checkpoint';
  finetune: 'lora' | 'full';
  finalLoss: number | null;
  samplesPerSecond: number;
}

/** What the worker thread is given (plain data). */
export interface TeacherThreadJob extends Omit<TeacherParams, 'checkpoint'> {
  datasetFile: string;
  out: string;
  checkpoint?: string;
  checkpointEvery: number;
  runKey: string;
}

export type TeacherThreadMessage =
  | { type: 'progress'; fraction: number; message: string }
  | { type: 'info'; text: string }
  | { type: 'done'; result: Omit<TeacherOutput, 'dir'> }
  | { type: 'error'; name: string; message: string };

export class TeacherStageError extends Error {
  override name = 'TeacherStageError';
}

/** Names, sizes and modification times of a checkpoint's files: cheap, and it changes when the weights do. */
export async function checkpointFingerprint(dir: string): Promise<string> {
  const path = resolve(dir);
  if (!existsSync(join(path, 'config.json'))) throw new TeacherStageError(`teacher.checkpoint ${path}: no config.json (a local Hugging Face checkpoint folder is expected)`);
  const hash = createHash('sha256');
  for (const name of (await readdir(path)).sort()) {
    const s = await stat(join(path, name));
    if (s.isFile()) hash.update(`${name}:${s.size}:${Math.round(s.mtimeMs)}\n`);
  }
  return hash.digest('hex').slice(0, 24);
}

function datasetFile(inputs: Record<string, InputArtifact>): string {
  const dataset = inputs.dataset!;
  return join(dataset.ref.dir, (dataset.output as MergeOutput).file);
}

/** Runs the teacher's training in a worker thread (tsx registered there too); aborting terminates the thread. */
function trainInThread(
  job: TeacherThreadJob,
  signal: AbortSignal,
  onMessage: (m: Extract<TeacherThreadMessage, { type: 'progress' | 'info' }>) => void,
): Promise<Omit<TeacherOutput, 'dir'>> {
  const entry = new URL('./teacher-thread.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: job });
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () => settle(() => reject(new TeacherStageError('teacher training aborted')));
    signal.addEventListener('abort', onAbort);
    worker.on('message', (m: TeacherThreadMessage) => {
      if (m.type === 'done') settle(() => resolvePromise(m.result));
      else if (m.type === 'error') settle(() => reject(new TeacherStageError(`teacher training failed: ${m.name}: ${m.message}`)));
      else onMessage(m);
    });
    worker.on('error', (err) => settle(() => reject(new TeacherStageError(`teacher training thread failed: ${err.message}`))));
    worker.on('exit', (code) => settle(() => reject(new TeacherStageError(`teacher training thread exited (${code}) without a result`))));
  });
}

export const teacherStage: StageImpl<TeacherParams, TeacherOutput> = {
  name: 'teacher',
  version: 1,
  async run(params, inputs, ctx) {
    // Training state lives outside the private folder so that a killed run resumes from its last checkpoint;
    // it is moved into the artifact when training finished.
    const runKey = createHash('sha256').update(JSON.stringify({ params, dataset: inputs.dataset!.ref.key })).digest('hex').slice(0, 24);
    const work = join(ctx.store.root, '.teacher-work', runKey);
    await mkdir(work, { recursive: true });
    const { checkpoint, ...rest } = params;
    const result = await trainInThread(
      { ...rest, ...(checkpoint ? { checkpoint: checkpoint.path } : {}), datasetFile: datasetFile(inputs), out: work, checkpointEvery: 50, runKey },
      ctx.signal,
      (m) => {
        if (m.type === 'progress') ctx.progress(m.fraction, m.message);
        else ctx.progress(0, m.text);
      },
    );
    await rename(work, join(ctx.dir, 'teacher'));
    return { dir: 'teacher', ...result };
  },
};

export interface TeacherFeaturesParams {
  seed: number;
  split: { train: number; validation: number; test: number };
  batchSize: number;
}

export interface TeacherFeaturesOutput {
  /** The teacher-features folder (features.json + features.f32), relative to the artifact. */
  dir: string;
  rows: number;
  dim: number;
  seconds: number;
}

export const teacherFeaturesStage: StageImpl<TeacherFeaturesParams, TeacherFeaturesOutput> = {
  name: 'teacher-features',
  version: 1,
  async run(params, inputs, ctx) {
    const { readDataset } = await import('../dataset/io.ts');
    const { splitByPatient } = await import('../eval/splits.ts');
    const { writeTeacherFeatures } = await import('../model/student/teacher-features.ts');
    const teacherInput = inputs.teacher!;
    const teacherDir = join(teacherInput.ref.dir, (teacherInput.output as TeacherOutput).dir);
    const dataset = await readDataset(datasetFile(inputs));
    // Distillation reads features of its training records only (docs/teacher-features.md): score just those.
    const records = splitByPatient(dataset.records, params.split, params.seed).train;
    const scorer = await openTeacherScorer(teacherDir);
    const t0 = performance.now();
    try {
      const { features } = await scorer.score(records, dataset.names, {
        batchSize: params.batchSize,
        onBatch: async (done, total) => {
          ctx.progress(done / total, `teacher features ${done}/${total}`);
          // Let the worker renew its job lock and relay progress between batches.
          await new Promise((r) => setImmediate(r));
        },
      });
      await writeTeacherFeatures(join(ctx.dir, 'features'), {
        dim: scorer.hidden,
        rows: records.map((r) => ({ patientId: r.patientId, encounterId: r.encounterId })),
        data: features,
        source: `retraining teacher ${teacherInput.ref.key} (${scorer.manifest.baseSource}, ${scorer.manifest.finetune}); dataset ${dataset.summary.fingerprint}`,
      });
    } finally {
      await scorer.close();
    }
    return { dir: 'features', rows: records.length, dim: scorer.hidden, seconds: (performance.now() - t0) / 1000 };
  },
};
