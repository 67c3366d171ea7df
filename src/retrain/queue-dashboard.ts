// The retraining queues in a browser: bull-board (a maintained bull UI) over the `retrain-runs` and
// `retrain-tasks` queues. The service mounts its router behind the admin authentication; this module only builds
// it and owns the queue connections it opens.
import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler } from 'express';
import { openQueues } from './bull-executor.ts';

export interface QueueDashboardOptions {
  redisUrl: string;
  /** The key prefix the workers use (`openQueues`' default unless a deployment changed it). */
  prefix?: string;
  /** Where the service mounts the router (the UI's links and API calls are absolute). */
  basePath: string;
  /** No retry, clean or promote buttons. */
  readOnly?: boolean;
}

export interface QueueDashboard {
  router: RequestHandler;
  queueNames: string[];
  close(): Promise<void>;
}

export function createQueueDashboard(options: QueueDashboardOptions): QueueDashboard {
  const queues = openQueues({ redisUrl: options.redisUrl, ...(options.prefix ? { prefix: options.prefix } : {}) });
  // A dashboard that cannot reach Redis shows errors in its pages; it must never take the service down.
  for (const q of [queues.runs, queues.tasks]) q.on('error', () => undefined);
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(options.basePath);
  const adapterOptions = { readOnlyMode: options.readOnly ?? false };
  createBullBoard({
    queues: [new BullAdapter(queues.runs, { ...adapterOptions, description: 'whole retraining runs (a worker that takes one coordinates it)' }), new BullAdapter(queues.tasks, { ...adapterOptions, description: 'stage tasks any worker may take' })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'leader-cds retraining' } },
  });
  return {
    router: serverAdapter.getRouter() as RequestHandler,
    queueNames: [queues.runs.name, queues.tasks.name],
    close: () => queues.close(),
  };
}
