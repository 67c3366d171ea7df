// Bull (Redis) transport for the retraining engine: a `runs` queue carries whole runs (one coordinator each), a
// `tasks` queue carries stage tasks that any worker may take. A killed worker's job is found stalled once its lock
// expires and is handed to another worker; stages are idempotent, so the rerun is safe.
import Queue, { type Job, type Queue as BullQueue } from 'bull';
import { createHash } from 'node:crypto';
import { ArtifactStore } from './artifacts.ts';
import { executeTask, type Executor, type StageRegistry, type Task } from './engine.ts';

export interface QueueSettings {
  redisUrl: string;
  /** Key prefix, so several deployments (or tests) share one Redis. */
  prefix?: string;
  /** How long a worker's lock on a job lasts without renewal; a dead worker's job is retaken after this. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Attempts per task, with exponential backoff. */
  attempts?: number;
  backoffMs?: number;
  /** How often the coordinator checks on its tasks. */
  pollMs?: number;
  /** How long Redis may be unreachable before a run gives up with an error. */
  redisDownTimeoutMs?: number;
}

export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

export interface Queues {
  tasks: BullQueue<Task>;
  runs: BullQueue<unknown>;
  settings: QueueSettings;
  close(): Promise<void>;
}

export function openQueues(settings: QueueSettings): Queues {
  const common = {
    prefix: settings.prefix ?? 'leader-cds',
    settings: {
      lockDuration: settings.lockDurationMs ?? 30_000,
      stalledInterval: settings.stalledIntervalMs ?? 15_000,
      maxStalledCount: 3,
    },
  };
  const tasks = new Queue<Task>('retrain-tasks', settings.redisUrl, common);
  const runs = new Queue<unknown>('retrain-runs', settings.redisUrl, common);
  return {
    tasks,
    runs,
    settings,
    close: async () => {
      await Promise.allSettled([tasks.close(), runs.close()]);
    },
  };
}

/** Bull job ids may not hold ':' (bull's own key separator). */
export function taskJobId(task: Task): string {
  // The artifact root is part of the identity: the same stage and key in another work dir is other work.
  const root = createHash('sha256').update(task.root).digest('hex').slice(0, 12);
  return `${task.stage}-${root}-${task.key}`;
}

export class BullExecutor implements Executor {
  constructor(private readonly queues: Queues) {}

  async runAll(tasks: Task[], onProgress: (task: Task, fraction: number, message?: string) => void): Promise<unknown[]> {
    const byId = new Map(tasks.map((t) => [taskJobId(t), t]));
    const relay = (jobId: string | number, progress: unknown) => {
      const task = byId.get(String(jobId));
      const p = progress as { fraction?: number; message?: string } | undefined;
      if (task && typeof p?.fraction === 'number') onProgress(task, p.fraction, p.message);
    };
    this.queues.tasks.on('global:progress', relay);
    try {
      return await Promise.all(tasks.map((task) => this.await(task)));
    } finally {
      this.queues.tasks.removeListener('global:progress', relay);
    }
  }

  private async enqueue(task: Task): Promise<void> {
    await this.queues.tasks.add('task', task, {
      jobId: taskJobId(task),
      attempts: this.queues.settings.attempts ?? 3,
      backoff: { type: 'exponential', delay: this.queues.settings.backoffMs ?? 1000 },
      removeOnComplete: 1000,
      removeOnFail: 1000,
    });
  }

  /**
   * Waits for one task by polling its job rather than trusting events alone: if Redis restarts and forgets the job,
   * the task is enqueued again (stages are idempotent and their artifacts are on disk); if Redis stays away longer
   * than the bound, the run stops with a clear error instead of hanging.
   */
  private async await(task: Task): Promise<unknown> {
    const jobId = taskJobId(task);
    const pollMs = this.queues.settings.pollMs ?? 500;
    const downBound = this.queues.settings.redisDownTimeoutMs ?? 120_000;
    let lastContact = Date.now();
    let first = true;
    for (;;) {
      try {
        // While Redis is away, commands wait for the reconnect: bound each look so the down-time check runs.
        const job = await Promise.race([
          this.queues.tasks.getJob(jobId),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connect: Redis did not answer')), Math.max(2000, pollMs * 4)).unref()),
        ]);
        lastContact = Date.now();
        if (!job) {
          await this.enqueue(task);
        } else if (await job.isCompleted()) {
          return job.returnvalue;
        } else if (await job.isFailed()) {
          // A job that failed for good in an earlier run gets a fresh set of attempts; one of this run reports.
          if (first) {
            await job.remove();
            await this.enqueue(task);
          } else throw new Error(`${task.stage} failed: ${job.failedReason ?? 'unknown reason'}`);
        }
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        if (Date.now() - lastContact > downBound) {
          throw new QueueUnavailableError(`Redis has been unreachable for ${Math.round(downBound / 1000)} s while waiting for ${task.stage}; finished stages are kept and the next run resumes from them`);
        }
      }
      first = false;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

function isConnectionError(err: unknown): boolean {
  const text = `${(err as Error)?.name ?? ''} ${(err as Error)?.message ?? ''}`;
  return /ECONNREFUSED|ECONNRESET|Connection is closed|connect|MaxRetriesPerRequest|Stream isn't writeable|EPIPE/i.test(text);
}

/** Processes stage tasks from the queue until closed; without a store, each task's own root is used. */
export function processTasks(queues: Queues, registry: StageRegistry, store: ArtifactStore | undefined, concurrency: number): void {
  const stores = new Map<string, ArtifactStore>();
  const storeFor = (root: string) => {
    let found = stores.get(root);
    if (!found) stores.set(root, (found = new ArtifactStore(root)));
    return found;
  };
  void queues.tasks.process('task', concurrency, async (job: Job<Task>) => {
    const controller = new AbortController();
    let last = 0;
    return executeTask(job.data, registry, store ?? storeFor(job.data.root), controller.signal, (fraction, message) => {
      // Progress goes through Redis: keep it to a few updates a second.
      const now = Date.now();
      if (now - last < 200 && fraction < 1) return;
      last = now;
      // A job Redis forgot (restart without persistence) cannot take progress: the coordinator re-enqueues it.
      job.progress({ fraction, ...(message ? { message } : {}) }).catch(() => undefined);
    });
  });
}
