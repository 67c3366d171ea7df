// Worker-thread entry of the teacher stage. `trainTeacher` is synchronous for its whole run (minutes to hours);
// on the stage's own thread it would block the event loop, so a bull worker could not renew its job lock and the
// job would be taken as stalled. Here it runs beside the event loop and reports through messages.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { TeacherThreadJob, TeacherThreadMessage } from './teacher-stages.ts';
import { TEACHER_ONNX } from './teacher-scorer.ts';

function post(message: TeacherThreadMessage): void {
  parentPort!.postMessage(message);
}

async function main(job: TeacherThreadJob): Promise<void> {
  const { initBackend, parseBackendChoice } = await import('../model/tf/backend.ts');
  const { readDataset } = await import('../dataset/io.ts');
  const { splitByPatient } = await import('../eval/splits.ts');
  const { trainTeacher } = await import('../teacher/pipeline.ts');
  const { loadTeacher, MANIFEST } = await import('../teacher/artifact.ts');
  const { exportTeacherOnnx } = await import('../teacher/onnx-export.ts');
  const { writeFileAtomic } = await import('../teacher/safetensors.ts');
  const backend = await initBackend(parseBackendChoice(job.backend));
  post({ type: 'info', text: `teacher backend: ${backend.name}` });
  const dataset = await readDataset(job.datasetFile);
  // The teacher learns from the student's training patients only, so the evaluation's test patients stay unseen.
  const split = splitByPatient(dataset.records, job.split, job.seed);
  const trainSet = { ...dataset, records: split.train };
  const total = job.scratch.pretrainSteps * (job.checkpoint ? 0 : 1) + job.steps;
  let last = 0;
  if (!existsSync(join(job.out, MANIFEST))) {
    trainTeacher({
      dataset: trainSet,
      datasetFile: `${job.datasetFile} (training split, ${split.train.length} records)`,
      out: job.out,
      ...(job.checkpoint ? { checkpoint: job.checkpoint } : {}),
      scratch: {
        tokenizerVocab: job.scratch.vocab,
        model: {
          hiddenSize: job.scratch.hidden,
          intermediateSize: Math.round((job.scratch.hidden * 8) / 3 / 8) * 8,
          numLayers: job.scratch.layers,
          numKvHeads: job.scratch.kvHeads,
          maxPositions: job.scratch.context,
        },
        pretrainSteps: job.scratch.pretrainSteps,
        pretrainLearningRate: job.scratch.pretrainLearningRate,
      },
      maxTokens: job.maxTokens,
      finetune: job.finetune,
      steps: job.steps,
      batchSize: job.batchSize,
      accumulation: job.accumulation,
      learningRate: job.learningRate,
      warmupSteps: job.warmupSteps,
      seed: job.seed,
      // The folder outlives a killed run: a rerun continues from the last saved state.
      resume: true,
      checkpointEvery: job.checkpointEvery,
      onStep: (phase, s) => {
        const done = (phase === 'finetune' && !job.checkpoint ? job.scratch.pretrainSteps : 0) + s.step;
        const now = Date.now();
        if (now - last < 200 && s.step < s.steps) return;
        last = now;
        post({ type: 'progress', fraction: Math.min(0.99, done / Math.max(1, total)), message: `${phase} step ${s.step}/${s.steps} loss ${s.loss.toFixed(4)}` });
      },
      onInfo: (text) => post({ type: 'info', text }),
    });
  }
  // Scoring and features run on onnxruntime from this export, without tfjs.
  const teacher = loadTeacher(job.out);
  try {
    const training = teacher.manifest.training;
    writeFileAtomic(join(job.out, TEACHER_ONNX), exportTeacherOnnx(teacher.decoder, `LEADER(T) teacher of retraining run ${job.runKey}`));
    post({
      type: 'done',
      result: {
        trainRecords: split.train.length,
        labels: teacher.manifest.labels.length,
        hiddenSize: teacher.manifest.hiddenSize,
        parameters: teacher.decoder.parameterCount(),
        base: teacher.manifest.baseSource,
        finetune: teacher.manifest.finetune,
        finalLoss: typeof training.finalLoss === 'number' ? training.finalLoss : null,
        samplesPerSecond: typeof training.samplesPerSecond === 'number' ? training.samplesPerSecond : 0,
      },
    });
  } finally {
    teacher.decoder.dispose();
  }
}

main(workerData as TeacherThreadJob).catch((err: unknown) => {
  post({ type: 'error', name: (err as Error)?.name ?? 'Error', message: (err as Error)?.message ?? String(err) });
});
