// Starts the service: configuration already validated, then logger, metrics, feedback store, authentication,
// the app, the listening socket, and the model in the background (readiness turns green when it is loaded).
import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { CdsService } from './contracts.ts';
import type { ServiceConfig } from './config.ts';
import { createApp } from './app.ts';
import { createAuthenticator, type Authenticator } from './auth/jwt.ts';
import { bindDefinitions, loadServiceDefinitions } from './definitions.ts';
import { FeedbackStore } from './feedback/store.ts';
import { createLogger } from './ops/logger.ts';
import { createMetrics, type ServiceMetrics } from './ops/metrics.ts';
import { Readiness } from './ops/readiness.ts';
import { createShutdown } from './ops/shutdown.ts';
import { loadModelServices, resolveModelDir, type WiringDeps } from './wiring.ts';
import { ModelHotSwap } from './hot-swap.ts';
import { SharedState } from './shared-state.ts';

export interface StartOptions {
  logger?: Logger;
  /** Builds the hook handlers; the real wiring by default. */
  loadServices?: (deps: WiringDeps) => Promise<CdsService[]>;
  /** Register process-wide default metrics (off in tests that start several servers). */
  defaultMetrics?: boolean;
}

export interface RunningService {
  server: Server;
  url: string;
  readiness: Readiness;
  metrics: ServiceMetrics;
  feedbackStore: FeedbackStore;
  /** Session memory and used token ids, shared with the other workers through SQLite. */
  sharedState: SharedState;
  auth: Authenticator;
  logger: Logger;
  /**
   * Resolves once the handlers are loaded; rejects when the first load fails (a broken mapping, a model that cannot
   * load or does not match the mapping): a service that cannot answer must not stay up looking healthy.
   */
  loaded: Promise<void>;
  /** Follows registry promotions when the model comes from the registry. */
  hotSwap?: ModelHotSwap;
  shutdown: () => Promise<void>;
}

export function warnIfAuthDisabled(config: ServiceConfig, logger: Logger): void {
  if (config.auth.mode !== 'disabled') return;
  const banner = '!'.repeat(78);
  const text = [
    banner,
    'JWT AUTHENTICATION IS DISABLED (auth.mode: disabled): ANY CALLER CAN USE THIS SERVICE.',
    'Development only. Configure auth.mode jwt with allow-listed issuers before real patient data flows.',
    `The admin endpoints are open too: /feedback/summary${config.admin.queues ? ' and the queue dashboard /admin/queues' : ''}.`,
    banner,
  ];
  logger.warn({ authMode: 'disabled' }, text.join('\n'));
  if (process.stderr.isTTY) process.stderr.write(`${text.join('\n')}\n`);
}

export async function startService(config: ServiceConfig, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger(config.log.level);
  warnIfAuthDisabled(config, logger);
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const readiness = new Readiness(['model']);
  const definitions = loadServiceDefinitions(config.services.definitionsDir);
  const feedbackStore = new FeedbackStore(config.feedback.db, (err, rows) => logger.error({ err, rows }, 'issued cards not written to the feedback database'));
  let sharedState: SharedState;
  let auth: Authenticator;
  try {
    sharedState = new SharedState(config.feedback.db, { maxTokenIds: config.auth.replayCacheSize });
  } catch (err) {
    feedbackStore.close();
    throw err;
  }
  const closeStores = (): void => {
    sharedState.close();
    feedbackStore.close();
  };
  try {
    auth = createAuthenticator(config.auth, (reason) => logger.debug({ reason }, 'JWT refused'), sharedState.replay);
  } catch (err) {
    closeStores();
    throw err;
  }
  if (config.auth.mode === 'jwt' && config.fhir.allowedServers === undefined)
    logger.warn('fhir.allowedServers is not set: a verified client may have its fhirAuthorization token sent to any fhirServer it names');
  const services: CdsService[] = [];
  const queues = config.admin.queues;
  const queueDashboard = queues
    ? (await import('../retrain/queue-dashboard.ts')).createQueueDashboard({ redisUrl: queues.redis, basePath: '/admin/queues', readOnly: queues.readOnly, ...(queues.prefix ? { prefix: queues.prefix } : {}) })
    : undefined;
  const app = createApp({ services, config, auth, feedbackStore, metrics, logger, readiness, ...(queueDashboard ? { queueDashboard } : {}) });
  const server = createServer(app);
  // Slow-loris guards; EHR calls are small and quick.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.listen(config.server.port, config.server.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    closeStores();
    await queueDashboard?.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  logger.info({ port: address.port, host: config.server.host, authMode: config.auth.mode, services: definitions.map((d) => d.id) }, 'listening');

  const deps: WiringDeps = { config, metrics, feedbackStore, logger, sessions: sharedState.sessions };
  // New requests look their service up in this array; swapping its contents never touches a request in flight.
  const apply = (handlers: CdsService[]) => services.splice(0, services.length, ...bindDefinitions(definitions, handlers));
  let hotSwap: ModelHotSwap | undefined;
  let stopping = false;
  const loadAll = async (): Promise<void> => {
    if (options.loadServices) {
      apply(await options.loadServices(deps));
      return;
    }
    const { dir, fromRegistry } = await resolveModelDir(config);
    const first = await loadModelServices(deps, dir);
    // Shut down while the model loaded: release it and start no registry watch that would keep the process alive.
    if (stopping) {
      await first.close();
      return;
    }
    if (fromRegistry && config.model.hotSwap) {
      hotSwap = new ModelHotSwap({
        registryRoot: config.model.registry,
        ...(config.model.redis ? { redisUrl: config.model.redis } : {}),
        load: (next) => loadModelServices(deps, next),
        apply: (loaded) => apply(loaded.services),
        logger,
        graceMs: config.model.swapGraceMs,
      });
      await hotSwap.start(first);
      if (stopping) await hotSwap.stop();
    } else apply(first.services);
  };
  const loaded = loadAll().then(
    () => {
      if (stopping) return;
      readiness.markReady('model');
      logger.info({ services: services.map((s) => s.id), model: hotSwap?.version }, 'ready');
      // A cluster primary counts its workers in (src/service/cluster.ts).
      if (cluster.isWorker) process.send?.({ leaderCds: 'ready' });
    },
    (err: unknown) => {
      readiness.markFailed('model', err instanceof Error ? err.message : String(err));
      logger.error({ err }, 'hook services failed to load at start');
      throw err;
    },
  );
  // Callers that only shut down must not see an unhandled rejection; `serve` awaits `loaded` and exits on it.
  loaded.catch(() => undefined);

  const shutdown = createShutdown({
    server,
    timeoutMs: config.server.shutdownTimeoutMs,
    logger,
    beforeClose: () => {
      stopping = true;
      readiness.markDraining();
    },
    // A cluster worker's IPC channel would keep it alive: let go of it last.
    release: [closeStores, async () => await hotSwap?.stop(), async () => await queueDashboard?.close(), () => void (cluster.isWorker && cluster.worker?.disconnect())],
  });
  return {
    server,
    url,
    readiness,
    metrics,
    feedbackStore,
    sharedState,
    auth,
    logger,
    loaded,
    shutdown,
    get hotSwap() {
      return hotSwap;
    },
  };
}
