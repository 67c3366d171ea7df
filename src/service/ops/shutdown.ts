// Graceful shutdown: stop taking connections, let calls in flight finish within a timeout, then release
// resources (SQLite) in order. Signals are caught once; a second signal during shutdown forces the exit.
import type { Server } from 'node:http';
import type { Logger } from 'pino';

export interface ShutdownOptions {
  server: Server;
  timeoutMs: number;
  logger: Logger;
  /** Called first (e.g. readiness goes to "draining"). */
  beforeClose?: () => void;
  /** Called after the server has closed, in order (e.g. close the feedback database). */
  release: Array<() => void | Promise<void>>;
}

/** Closes the server gracefully; resolves when everything is released. Safe to call more than once. */
export function createShutdown(options: ShutdownOptions): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= (async () => {
      const { server, timeoutMs, logger } = options;
      options.beforeClose?.();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections with no call in flight would otherwise hold the server open.
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
        timer.unref();
      });
      if ((await Promise.race([closed, timedOut])) === 'timeout') {
        logger.warn({ timeoutMs }, 'calls still in flight at the shutdown timeout; closing their connections');
        server.closeAllConnections();
        await closed;
      }
      clearTimeout(timer);
      for (const release of options.release) {
        try {
          await release();
        } catch (err) {
          logger.error({ err }, 'error while releasing a resource at shutdown');
        }
      }
      logger.info('stopped');
    })();
    return done;
  };
}

/** SIGTERM/SIGINT run the shutdown once; a second signal exits at once. */
export function onSignals(shutdown: () => Promise<void>, logger: Logger): () => void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => {
        process.exitCode = 0;
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
