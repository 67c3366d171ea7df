// `leader-cds retrain` (inline, or enqueued on bull and followed) and `leader-cds worker` (takes retraining work).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { CliError } from '../errors.ts';
import { numberOption } from '../options.ts';
import type { RetrainConfig } from '../../retrain/config.ts';

interface RetrainCliOptions {
  config?: string;
  input?: string;
  bulkUrl?: string;
  mapping?: string;
  inline?: boolean;
  redis?: string;
  workDir?: string;
  registry?: string;
  partitions?: number;
  epochs?: number;
  dim?: number;
  teacher?: boolean;
  teacherCheckpoint?: string;
  teacherSteps?: number;
  promote: boolean;
  json?: boolean;
}

async function buildConfig(opts: RetrainCliOptions): Promise<RetrainConfig> {
  const { loadRetrainConfig, parseRetrainConfig, RetrainConfigError } = await import('../../retrain/config.ts');
  try {
    const base: Record<string, unknown> = opts.config ? { ...(await loadRetrainConfig(opts.config)) } : {};
    if (opts.input) base.source = { kind: 'folder', path: opts.input };
    if (opts.bulkUrl) base.source = { kind: 'bulk', baseUrl: opts.bulkUrl };
    if (opts.mapping) base.mapping = opts.mapping;
    if (opts.workDir) base.workDir = opts.workDir;
    if (opts.registry) base.registry = opts.registry;
    if (opts.partitions !== undefined) base.partitions = opts.partitions;
    const student = { ...((base.student as object | undefined) ?? {}) } as Record<string, unknown>;
    if (opts.epochs !== undefined) student.epochs = opts.epochs;
    if (opts.dim !== undefined) student.dim = opts.dim;
    base.student = student;
    const teacher = { ...((base.teacher as object | undefined) ?? {}) } as Record<string, unknown>;
    if (opts.teacher || opts.teacherCheckpoint) teacher.enabled = true;
    if (opts.teacherCheckpoint) teacher.checkpoint = opts.teacherCheckpoint;
    if (opts.teacherSteps !== undefined) teacher.steps = opts.teacherSteps;
    base.teacher = teacher;
    if (!opts.promote) base.promote = false;
    if (opts.redis && !base.notifyRedis) base.notifyRedis = opts.redis;
    if (!base.source) throw new CliError('retrain needs a source: --input <bulk folder>, --bulk-url <FHIR base> or --config <file>', 2);
    const config = parseRetrainConfig(base, opts.config ?? 'command line');
    if (config.teacher.enabled && config.teacher.checkpoint) {
      // A checkpoint that is not one is bad input: say so before anything is enqueued or exported.
      const { checkpointFingerprint, TeacherStageError } = await import('../../retrain/teacher-stages.ts');
      await checkpointFingerprint(config.teacher.checkpoint).catch((err: unknown) => {
        throw err instanceof TeacherStageError ? new CliError(`${opts.config ?? 'command line'}: ${err.message}`, 2) : err;
      });
    }
    // Workers may run elsewhere in the file system: hand them absolute paths.
    return {
      ...config,
      mapping: resolve(config.mapping),
      workDir: resolve(config.workDir),
      registry: resolve(config.registry),
      teacher: { ...config.teacher, ...(config.teacher.checkpoint ? { checkpoint: resolve(config.teacher.checkpoint) } : {}) },
      ...(config.source.kind === 'folder' ? { source: { ...config.source, path: resolve(config.source.path) } } : {}),
    };
  } catch (err) {
    if (err instanceof RetrainConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

async function retrain(opts: RetrainCliOptions): Promise<void> {
  const config = await buildConfig(opts);
  const { retrainReporter } = await import('../../retrain/reporter.ts');
  const reporter = retrainReporter();
  try {
    let result;
    if (opts.inline || !opts.redis) {
      if (!opts.inline) process.stderr.write('no --redis given: running inline in this process\n');
      const { ArtifactStore } = await import('../../retrain/artifacts.ts');
      const { InlineExecutor } = await import('../../retrain/engine.ts');
      const { runRetrain, leaderStages } = await import('../../retrain/run.ts');
      const store = new ArtifactStore(config.workDir);
      result = await runRetrain(config, new InlineExecutor(leaderStages(), store), store, reporter.onEvent);
    } else {
      const { openQueues } = await import('../../retrain/bull-executor.ts');
      const queues = openQueues({ redisUrl: opts.redis });
      try {
        const job = await queues.runs.add('run', config, { attempts: 2, backoff: { type: 'fixed', delay: 5000 }, removeOnComplete: 100, removeOnFail: 100 });
        process.stderr.write(`enqueued run ${job.id}; workers (leader-cds worker --redis ${opts.redis}) take it from here\n`);
        queues.runs.on('global:progress', (jobId: string, progress: unknown) => {
          if (String(jobId) === String(job.id)) reporter.onEvent(progress as Parameters<typeof reporter.onEvent>[0]);
        });
        result = await job.finished().catch((err: unknown) => {
          // bull rejects with the worker's failure reason as a bare Error: say which run failed, without a local stack.
          throw new CliError(`run ${job.id} failed on a worker: ${(err as Error)?.message ?? String(err)}; finished stages are kept and a new run resumes from them`, 1);
        });
      } finally {
        await queues.close();
      }
    }
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `candidate ${result.candidate}: ${result.decision.passed ? 'passed the gate' : 'did not pass the gate'}; ${result.promoted ? 'promoted' : 'not promoted'}\n` +
          `dataset: ${result.dataset.patients} patients, ${result.dataset.encounters} encounters\n` +
          (result.teacher
            ? `teacher: ${result.teacher.base}, ${result.teacher.finetune} fine-tuning, ${result.teacher.parameters} parameters, trained on ${result.teacher.trainRecords} records (${result.teacher.path})\n`
            : '') +
          `report: ${result.evaluation}\n`,
      );
  } catch (err) {
    const { TeacherStageError } = await import('../../retrain/teacher-stages.ts');
    const { QueueUnavailableError } = await import('../../retrain/bull-executor.ts');
    if (err instanceof TeacherStageError || err instanceof QueueUnavailableError) throw new CliError(err.message, 1);
    throw err;
  } finally {
    reporter.stop();
  }
}

async function worker(opts: { redis: string; concurrency: number }): Promise<void> {
  const { openQueues, processTasks, BullExecutor } = await import('../../retrain/bull-executor.ts');
  const { ArtifactStore } = await import('../../retrain/artifacts.ts');
  const { runRetrain, leaderStages } = await import('../../retrain/run.ts');
  const concurrency = opts.concurrency;
  const queues = openQueues({ redisUrl: opts.redis });
  const registry = leaderStages();
  void queues.runs.process('run', 1, async (job) => {
    const config = job.data as RetrainConfig;
    const store = new ArtifactStore(config.workDir);
    return runRetrain(config, new BullExecutor(queues), store, (e) => void job.progress(e).catch(() => undefined));
  });
  // Each task names its run's artifact root.
  processTasks(queues, registry, undefined, concurrency);
  queues.tasks.on('error', (err) => process.stderr.write(`worker: queue error: ${err.message}\n`));
  process.stderr.write(`worker: taking retraining work from ${opts.redis.replace(/\/\/[^@]*@/, '//')} (task concurrency ${concurrency})\n`);
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      process.stderr.write('worker: finishing active jobs, then stopping\n');
      void queues.close().then(() => resolveStop());
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

export function register(program: Command): void {
  program
    .command('retrain')
    .description('export -> dataset -> [teacher -> features] -> distil -> evaluate -> gate -> promote, inline or on bull workers')
    .option('--config <file>', 'retraining configuration (JSON or YAML)')
    .option('--input <folder>', 'a bulk-export folder to train from')
    .option('--bulk-url <url>', 'FHIR base URL to run a Bulk Data $export against')
    .option('--mapping <file>', 'site mapping', 'mappings/synthetic.json')
    .option('--inline', 'run every stage in this process (no Redis)')
    .option('--redis <url>', 'enqueue on bull (workers must be running) and follow progress')
    .option('--work-dir <dir>', 'artifact folder shared by workers')
    .option('--registry <dir>', 'model registry folder')
    .option('--partitions <n>', 'patient partitions for parallel dataset building', numberOption('--partitions', { int: true, min: 1, max: 256 }))
    .option('--epochs <n>', 'student training epochs (upper bound)', numberOption('--epochs', { int: true, min: 1 }))
    .option('--dim <n>', 'student width', numberOption('--dim', { int: true, min: 4 }))
    .option('--teacher', 'add the teacher stages: train LEADER(T) (from scratch unless --teacher-checkpoint), distil the student from its features, score it too')
    .option('--teacher-checkpoint <dir>', 'local Hugging Face checkpoint to fine-tune with LoRA as the teacher (implies --teacher)')
    .option('--teacher-steps <n>', 'teacher fine-tuning steps', numberOption('--teacher-steps', { int: true, min: 1 }))
    .option('--no-promote', 'register and gate the candidate, but do not promote it')
    .option('--json', 'print the result as JSON')
    .action(retrain);
  program
    .command('worker')
    .description('take retraining runs and stage tasks from bull queues on Redis')
    .requiredOption('--redis <url>', 'Redis URL')
    .option('--concurrency <n>', 'stage tasks at once in this worker', numberOption('--concurrency', { int: true, min: 1 }), 1)
    .action(worker);
}
