// Structured JSON logs. Tokens and patient data never reach them: requests are logged by id, method, route
// and status only, and the redaction list catches the fields that could carry secrets if logged by mistake.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'authorization',
  'fhirAuthorization',
  '*.fhirAuthorization',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'body',
  '*.body',
  'prefetch',
  '*.prefetch',
  'context',
  '*.context',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'leader-cds' },
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honours a sane incoming x-request-id (so a call can be traced across systems), otherwise makes one. */
export function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

export function createHttpLogger(logger: Logger): HttpLogger {
  return pinoHttp({
    logger,
    genReqId: requestIdOf,
    // Explicit serializers: nothing about a request is logged unless listed here.
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        path: typeof req.url === 'string' ? req.url.split('?')[0]!.slice(0, 200) : undefined,
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: stdSerializers.err,
    },
    // 503 (not ready, over budget) is an expected answer under load, not a fault: warn, no stack.
    customLogLevel: (_req, res, err) => (err || (res.statusCode >= 500 && res.statusCode !== 503) ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    // pino-http invents an Error for every 5xx; the error handler already logged the real one with its stack.
    customErrorObject: (_req, _res, _err, value: Record<string, unknown>) => {
      const { err: _drop, ...rest } = value;
      return rest;
    },
    customErrorMessage: (_req, res) => `request answered ${res.statusCode}`,
    // Health probes and scrapes every few seconds would drown the log.
    autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes((req.url ?? '').split('?')[0]!) },
    quietReqLogger: true,
  });
}
