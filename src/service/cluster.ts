// Several worker processes on one port (node:cluster, server.workers > 1): one Node event loop runs the model and
// the HTTP work of a call on one core, so a second core needs a second process. Each worker is a whole service
// (its own model, hot swap and graceful shutdown); state that must be common (ordering-session memory, used JWT
// ids) lives in SQLite (shared-state.ts). The primary only forks, restarts crashed workers and relays signals.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** A worker that dies this soon after its start counts as a failed start. */
  minUptimeMs?: number;
  /** Failed starts in a row after which the primary gives up (bad port, bad model: every worker would fail). */
  maxFailedStarts?: number;
}

/** Runs the primary until every worker has stopped; resolves with the exit code for the process. */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { workers, logger } = options;
  const minUptimeMs = options.minUptimeMs ?? 5_000;
  const maxFailedStarts = options.maxFailedStarts ?? Math.max(3, workers);
  const started = new Map<Worker, number>();
  const ready = new Set<Worker>();
  let stopping = false;
  let failedStarts = 0;
  let exitCode = 0;
  const restarts = new Set<NodeJS.Timeout>();

  const fork = (): void => {
    if (stopping) return;
    const worker = cluster.fork();
    started.set(worker, Date.now());
    worker.on('message', (message: unknown) => {
      if (typeof message !== 'object' || message === null || (message as { leaderCds?: unknown }).leaderCds !== 'ready') return;
      ready.add(worker);
      failedStarts = 0;
      if (ready.size === workers) logger.info({ workers }, 'all workers ready');
    });
  };

  return new Promise<number>((resolve) => {
    const stopAll = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: stopping workers now');
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        return;
      }
      stopping = true;
      for (const t of restarts) clearTimeout(t);
      restarts.clear();
      logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'shutting down workers');
      // Each worker drains its own calls in flight (ops/shutdown.ts) and exits.
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    };
    const onSignal = (signal: NodeJS.Signals): void => stopAll(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);

    cluster.on('exit', (worker, code, signal) => {
      const uptime = Date.now() - (started.get(worker) ?? 0);
      started.delete(worker);
      ready.delete(worker);
      const remaining = Object.keys(cluster.workers ?? {}).length;
      if (!stopping) {
        logger.error({ pid: worker.process.pid, code, signal, uptimeMs: uptime }, 'a worker exited; starting another');
        if (uptime < minUptimeMs) failedStarts++;
        if (failedStarts >= maxFailedStarts) {
          logger.fatal({ failedStarts }, 'workers keep failing at start; stopping the service');
          exitCode = typeof code === 'number' && code !== 0 ? code : 1;
          stopAll('SIGTERM');
        } else {
          // A pause after a failed start, so that a broken configuration does not spin. The timer keeps the
          // primary alive while no worker runs.
          const timer = setTimeout(() => {
            restarts.delete(timer);
            fork();
          }, uptime < minUptimeMs ? 1_000 : 0);
          restarts.add(timer);
          return;
        }
      }
      if (remaining === 0 && started.size === 0) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        logger.info('all workers stopped');
        resolve(exitCode);
      }
    });

    logger.info({ workers }, 'starting workers');
    for (let i = 0; i < workers; i++) fork();
  });
}
