// The HTTP edge of the CDS Hooks 2.0 service: discovery, hook calls, feedback, health, readiness, metrics.
// Handlers (src/service/hooks/**) never see HTTP; every failure leaves through http-errors.ts.
import { performance } from 'node:perf_hooks';
import cors from 'cors';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { CallContext, CdsResponse, CdsService } from './contracts.ts';
import { ServiceError } from './contracts.ts';
import type { ServiceConfig } from './config.ts';
import type { Authenticator, VerifiedClient } from './auth/jwt.ts';
import { BASIC_REALM, createAdminAuthenticator } from './auth/admin.ts';
import { CdsResponseSchema, CardSchema, ActionSchema } from './cards-schema.ts';
import { discoveryEntry } from './definitions.ts';
import type { FeedbackStore } from './feedback/store.ts';
import { parseFeedback } from './feedback/schema.ts';
import { parseHookRequest } from './hook-request.ts';
import { errorHandler, MethodNotAllowed, notFoundHandler, operationOutcome } from './http-errors.ts';
import { createHttpLogger } from './ops/logger.ts';
import type { ServiceMetrics } from './ops/metrics.ts';
import type { Readiness } from './ops/readiness.ts';

export interface AppOptions {
  /** Read at every call, so a server may fill it once the model has loaded. */
  services: CdsService[];
  config: ServiceConfig;
  auth: Authenticator;
  feedbackStore: FeedbackStore;
  metrics: ServiceMetrics;
  logger: Logger;
  readiness: Readiness;
  /** The retraining queues' dashboard (src/retrain/queue-dashboard.ts), mounted at /admin/queues behind admin auth. */
  queueDashboard?: { router: RequestHandler };
}

interface Locals {
  arrival: number;
  client?: VerifiedClient;
}

const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/*+json'];

function locals(res: Response): Locals {
  return res.locals as Locals;
}

/** Express 4 does not catch promise rejections: route them to the error handler. */
function route(fn: (req: Request, res: Response) => Promise<void> | void): RequestHandler {
  return (req, res, next) => {
    try {
      const result = fn(req, res);
      if (result instanceof Promise) result.catch(next);
    } catch (err) {
      next(err);
    }
  };
}

function methodNotAllowed(...allow: string[]): RequestHandler {
  return (_req, _res, next) => next(new MethodNotAllowed(allow));
}

/** Share of the budget kept back so the edge can still answer when a handler uses all of its deadline. */
function handlerDeadline(arrival: number, budgetMs: number): number {
  return arrival + budgetMs - Math.min(50, Math.floor(budgetMs * 0.2));
}

export function createApp(options: AppOptions): express.Express {
  const { config, auth, feedbackStore, metrics, logger, readiness } = options;
  const baseUrl = (config.server.baseUrl ?? '').replace(/\/+$/, '');
  const budgetMs = config.server.timeBudgetMs;
  const findService = (id: string): CdsService | undefined => options.services.find((s) => s.id === id);

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use((_req, res, next) => {
    locals(res).arrival = Date.now();
    next();
  });
  app.use(createHttpLogger(logger));
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const template = req.route?.path;
      const routeName = typeof template === 'string' ? template : 'unmatched';
      metrics.httpRequests.inc({ route: routeName, method: req.method, status: String(res.statusCode) });
      const service = routeName === '/cds-services/:id' ? findService(String(req.params.id)) : undefined;
      if (service)
        metrics.hookLatency.observe(
          { hook: service.hook, service: service.id, status: `${Math.floor(res.statusCode / 100)}xx` },
          (performance.now() - started) / 1000,
        );
    });
    next();
  });

  const allowAny = config.cors.origins.includes('*');
  const origins = new Set(config.cors.origins);
  app.use(
    cors({
      origin: (origin, callback) => callback(null, origin !== undefined && (allowAny || origins.has(origin))),
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Retry-After'],
      maxAge: 600,
    }),
  );

  // A preflight cors() did not answer came from an origin off the allow-list.
  app.options('*', (req, res, next) => {
    if (req.headers.origin !== undefined) return next(new ServiceError('forbidden', 'origin not allowed'));
    res.set('Allow', 'GET, POST, OPTIONS').status(204).end();
  });

  // Authentication before the body is read: an unauthenticated caller gets nothing parsed.
  const authThen: RequestHandler = (req, res, next) => {
    if (auth.mode === 'disabled') return next();
    auth
      .authenticate(req.headers.authorization, `${baseUrl}${req.path}`)
      .then((client) => {
        if (client) locals(res).client = client;
        next();
      })
      .catch((err: unknown) => {
        if (err instanceof ServiceError && err.kind === 'unauthorized') metrics.authFailures.inc();
        next(err);
      });
  };

  // Admin endpoints: HTTP Basic users (a browser can sign in) or an admin-scoped JWT; open when auth is disabled.
  const admin = createAdminAuthenticator(config.admin, auth);
  const adminThen: RequestHandler = (req, res, next) => {
    if (admin.open) return next();
    admin
      .authenticate(req.headers.authorization, `${baseUrl}${req.originalUrl.split('?')[0]}`)
      .then(() => next())
      .catch((err: unknown) => {
        if (err instanceof ServiceError && err.kind === 'unauthorized') {
          metrics.authFailures.inc();
          res.set('WWW-Authenticate', `Basic realm="${BASIC_REALM}", charset="UTF-8", Bearer`);
        }
        next(err);
      });
  };

  // Password guessing: failed admin sign-ins are counted per client address (successes are not); past the bound, 429.
  const adminLimit: RequestHandler = admin.open
    ? (_req, _res, next) => next()
    : rateLimit({
        windowMs: config.admin.failedSignIns.windowSeconds * 1000,
        limit: config.admin.failedSignIns.max,
        skipSuccessfulRequests: true,
        standardHeaders: 'draft-7',
        legacyHeaders: false,
        handler: (_req, _res, next) => next(new ServiceError('too-many', 'too many failed sign-ins from this address; retry after the time in Retry-After')),
      });

  const jsonBody: RequestHandler[] = [
    (req, _res, next) => {
      const length = req.headers['content-length'];
      const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
      if (!hasBody) return next(new ServiceError('invalid', 'request body required (a JSON object)'));
      if (!req.is(JSON_TYPES)) return next(new ServiceError('unsupported-media', 'send Content-Type: application/json'));
      next();
    },
    express.json({ limit: config.server.bodyLimit, type: JSON_TYPES, strict: true }),
  ];

  // Operations: no authentication (no patient data), answered even while the model loads.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    if (readiness.isReady()) {
      res.json({ status: 'ready' });
      return;
    }
    res.set('Retry-After', '1');
    res.status(503).type('application/fhir+json').send(JSON.stringify(operationOutcome('error', 'transient', `not ready: ${readiness.reasons().join('; ')}`)));
  });
  app.get(
    '/metrics',
    route(async (_req, res) => {
      res.set('Content-Type', metrics.registry.contentType);
      res.send(await metrics.registry.metrics());
    }),
  );
  for (const path of ['/healthz', '/readyz', '/metrics']) app.all(path, methodNotAllowed('GET'));

  app.get('/cds-services', ...(config.auth.protectDiscovery ? [authThen] : []), (_req, res) => {
    // An empty list while the model loads would be cached by an EHR as "no services": say "not yet" instead.
    if (options.services.length === 0 && !readiness.isReady()) {
      res.status(503).set('Retry-After', '5').type('application/fhir+json');
      res.send(JSON.stringify(operationOutcome('error', 'transient', `the services are starting: ${readiness.reasons().join('; ')}`)));
      return;
    }
    res.json({ services: options.services.map(discoveryEntry) });
  });
  app.all('/cds-services', methodNotAllowed('GET'));

  app.post(
    '/cds-services/:id',
    authThen,
    ...jsonBody,
    route(async (req, res) => {
      const service = findService(String(req.params.id));
      if (!service) throw new ServiceError('not-found', `no CDS service with id ${String(req.params.id).slice(0, 64)}`);
      if (!readiness.isReady()) throw new ServiceError('unavailable', 'the service is starting or stopping; retry shortly');
      const request = parseHookRequest(req.body);
      if (request.hook !== service.hook)
        throw new ServiceError('invalid', `service ${service.id} answers hook ${service.hook}, not ${request.hook.slice(0, 64)}`, ['hook']);

      const arrival = locals(res).arrival;
      const controller = new AbortController();
      const onClose = (): void => {
        if (!res.writableEnded) controller.abort(new ServiceError('invalid', 'client closed the connection'));
      };
      res.on('close', onClose);
      const client = locals(res).client;
      const call: CallContext = {
        requestId: String(req.id),
        deadline: handlerDeadline(arrival, budgetMs),
        signal: controller.signal,
        ...(client ? { issuer: client.issuer } : {}),
        ...(client?.tenant !== undefined ? { tenant: client.tenant } : {}),
      };
      let timer: NodeJS.Timeout | undefined;
      const hardStop = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => {
            const err = new ServiceError('timeout', `no answer within the ${budgetMs} ms time budget`);
            controller.abort(err);
            reject(err);
          },
          Math.max(0, arrival + budgetMs - Date.now()),
        );
      });
      const work = service.handle(request, call);
      // The handler may still settle after the hard stop; its late result is of no use to anyone.
      work.catch(() => undefined);
      let response: CdsResponse;
      try {
        response = await Promise.race([work, hardStop]);
      } finally {
        clearTimeout(timer);
        res.off('close', onClose);
      }
      const checked = checkResponse(response, service.id, req.log ?? logger, metrics);
      metrics.cardsReturned.inc({ service: service.id }, checked.cards.length);
      res.json(checked);
    }),
  );
  app.all('/cds-services/:id', methodNotAllowed('POST'));

  app.post(
    '/cds-services/:id/feedback',
    authThen,
    ...jsonBody,
    route((req, res) => {
      const service = findService(String(req.params.id));
      if (!service) throw new ServiceError('not-found', `no CDS service with id ${String(req.params.id).slice(0, 64)}`);
      const items = parseFeedback(req.body);
      const result = feedbackStore.storeFeedback(service.id, items);
      for (const [outcome, count] of Object.entries(result.storedByOutcome)) if (count > 0) metrics.feedbackItems.inc({ outcome }, count);
      res.json({ stored: result.stored, duplicates: result.duplicates });
    }),
  );
  app.all('/cds-services/:id/feedback', methodNotAllowed('POST'));

  app.get(
    '/feedback/summary',
    adminLimit,
    adminThen,
    route((_req, res) => {
      res.json(feedbackStore.summary());
    }),
  );
  app.all('/feedback/summary', methodNotAllowed('GET'));

  if (options.queueDashboard) app.use('/admin/queues', adminLimit, adminThen, options.queueDashboard.router);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * Keeps what the spec allows: a card that breaks the schema is dropped (and logged by path, never by value)
 * rather than sent to an EHR that might reject the whole response.
 */
function checkResponse(response: CdsResponse, serviceId: string, log: Logger, metrics: ServiceMetrics): CdsResponse {
  if (CdsResponseSchema.safeParse(response).success) return response;
  const cards = Array.isArray(response?.cards) ? response.cards : [];
  const kept = cards.filter((card, index) => {
    const result = CardSchema.safeParse(card);
    if (!result.success) metrics.invalidCards.inc({ service: serviceId });
    if (!result.success)
      log.error({ service: serviceId, card: index, problems: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'dropped an invalid card');
    return result.success;
  });
  const seen = new Set<string>();
  const unique = kept.filter((c) => c.uuid === undefined || (!seen.has(c.uuid) && seen.add(c.uuid) !== undefined));
  const out: CdsResponse = { cards: unique };
  const actions = (response?.systemActions ?? []).filter((a) => ActionSchema.safeParse(a).success);
  if (actions.length > 0) out.systemActions = actions;
  return out;
}
