// Service configuration: defaults < config file (JSON or YAML) < environment < command-line flags,
// validated once at start so that a bad value stops the service with a message naming where it came from.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parsePasswordHash } from './auth/admin.ts';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const Jwk = z.object({ kty: z.string().min(1), kid: z.string().optional() }).passthrough();

const Issuer = z
  .object({
    /** Exact `iss` claim value. */
    iss: z.string().min(1),
    /** JWKS fetched over HTTPS (HTTP only for loopback) with caching and refetch on an unknown `kid`. */
    jwksUrl: z.string().url().optional(),
    /** Keys configured out of band, inline. */
    jwks: z.object({ keys: z.array(Jwk).min(1) }).strict().optional(),
    /** Keys configured out of band, in a JWKS file (relative to the config file). */
    jwksFile: z.string().min(1).optional(),
    /** Asymmetric algorithms only; ES256/RS256 etc. only when a site needs them. */
    algorithms: z
      .array(z.enum(['ES384', 'RS384', 'ES256', 'RS256', 'ES512', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA']))
      .min(1)
      .default(['ES384', 'RS384']),
  })
  .strict()
  .refine((i) => [i.jwksUrl, i.jwks, i.jwksFile].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of jwksUrl, jwks or jwksFile',
  });

const BodyLimit = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?\s*(b|kb|mb)$/i, 'a size such as 512kb or 1mb'),
]);

export const ServiceConfigSchema = z
  .object({
    server: z
      .object({
        port: z.number().int().min(0).max(65535).default(8080),
        /** Loopback by default: a development start with auth disabled must not be reachable from the network. */
        host: z.string().min(1).default('127.0.0.1'),
        /** Public base URL as CDS clients call it (JWT `aud` is this plus the path). */
        baseUrl: z.string().url().optional(),
        bodyLimit: BodyLimit.default('1mb'),
        /** Hard budget for one hook call, FHIR fallback included. */
        timeBudgetMs: z.number().int().positive().max(60_000).default(300),
        shutdownTimeoutMs: z.number().int().positive().default(10_000),
        /** Processes serving the port (node:cluster); each loads its own model. 1 runs no cluster at all. */
        workers: z.number().int().min(1).max(64).default(1),
      })
      .strict()
      .default({}),
    model: z
      .object({
        /** A fixed model directory; when set, the registry is not consulted and nothing is hot-swapped. */
        dir: z.string().min(1).optional(),
        /** The model registry: the service answers with its current version and follows promotions. */
        registry: z.string().min(1).default('models'),
        /** Follow promotions without a restart (registry watch, plus Redis notices when `redis` is set). */
        hotSwap: z.boolean().default(true),
        /** Redis URL on which `models promote` and retraining runs announce promotions. */
        redis: z.string().min(1).optional(),
        /** How long a replaced model stays loaded for requests that started on it. */
        swapGraceMs: z.number().int().positive().default(30_000),
        /** Score vectors kept (per worker and model; 64 floats each, an explanation one per occluded input); 0: off. */
        scoreCacheSize: z.number().int().min(0).max(1_000_000).default(20_000),
        /** Serve a model whose training mapping differs from `mapping` (logged at error level and counted). Never by default. */
        allowMappingMismatch: z.boolean().default(false),
      })
      .strict()
      .default({}),
    fhir: z
      .object({
        /**
         * FHIR servers the service may call with a client's fhirAuthorization token (base URLs, compared without a
         * trailing slash). A call naming another server is served from its prefetch only: its token is never sent.
         * Unset: any server a caller names (development; a warning is logged when auth.mode is jwt).
         */
        allowedServers: z
          .array(
            z
              .string()
              .url()
              .refine((u) => /^https?:\/\//i.test(u), 'an http(s) URL'),
          )
          .optional(),
      })
      .strict()
      .default({}),
    mapping: z.object({ path: z.string().min(1).default('mappings/synthetic.json') }).strict().default({}),
    services: z.object({ definitionsDir: z.string().min(1).default('cds-hooks') }).strict().default({}),
    auth: z
      .object({
        mode: z.enum(['jwt', 'disabled']).default('disabled'),
        /** Allows `disabled` when NODE_ENV=production. */
        forceDisabled: z.boolean().default(false),
        issuers: z.array(Issuer).default([]),
        clockSkewSeconds: z.number().int().min(0).max(300).default(30),
        /** Tokens older than this (by `iat`) are refused; also bounds how long a `jti` is remembered. */
        maxTokenAgeSeconds: z.number().int().positive().max(86_400).default(3600),
        replayCacheSize: z.number().int().positive().default(100_000),
        /** Least time between two JWKS fetches for an unknown kid (bounds what a flood of bad kids costs). */
        jwksCooldownSeconds: z.number().min(0).max(3600).default(30),
        /** Also require a JWT on discovery (it holds no patient data, so it is open by default). */
        protectDiscovery: z.boolean().default(false),
      })
      .strict()
      .default({}),
    cors: z
      .object({
        /** Browser origins allowed to call; `*` allows any. */
        origins: z.array(z.string().min(1)).default(['https://sandbox.cds-hooks.org']),
      })
      .strict()
      .default({}),
    feedback: z.object({ db: z.string().min(1).default('var/feedback.sqlite') }).strict().default({}),
    /** Admin endpoints (/feedback/summary, /admin/queues): HTTP Basic users, or JWTs with an admin scope (auth/admin.ts). */
    admin: z
      .object({
        users: z
          .array(
            z
              .object({
                name: z.string().regex(/^[^:\s]{1,64}$/, 'a user name without spaces or colons'),
                passwordHash: z.string().superRefine((value, ctx) => {
                  try {
                    parsePasswordHash(value);
                  } catch (err) {
                    ctx.addIssue({ code: 'custom', message: (err as Error).message });
                  }
                }),
              })
              .strict(),
          )
          .default([]),
        jwt: z
          .object({ issuers: z.array(z.string().min(1)).optional(), scope: z.string().min(1).optional() })
          .strict()
          .default({}),
        /** Failed admin sign-ins allowed per client address and window; more get 429 until the window passes. */
        failedSignIns: z
          .object({ max: z.number().int().min(1).max(10_000).default(20), windowSeconds: z.number().int().min(1).max(86_400).default(900) })
          .strict()
          .default({}),
        /** The retraining queues' Redis: when set, the bull dashboard is mounted at /admin/queues. */
        queues: z
          .object({ redis: z.string().min(1), prefix: z.string().min(1).optional(), readOnly: z.boolean().default(false) })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.auth.mode === 'jwt' && c.auth.issuers.length === 0)
      ctx.addIssue({ code: 'custom', path: ['auth', 'issuers'], message: 'auth.mode jwt needs at least one issuer' });
    if (c.auth.mode === 'jwt' && c.server.baseUrl === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['server', 'baseUrl'],
        message: 'auth.mode jwt needs the public base URL (the JWT aud is checked against it)',
      });
    const names = c.admin.users.map((u) => u.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) ctx.addIssue({ code: 'custom', path: ['admin', 'users', i, 'name'], message: `user ${n} is listed twice` });
    });
    for (const [i, iss] of (c.admin.jwt.issuers ?? []).entries())
      if (!c.auth.issuers.some((t) => t.iss === iss))
        ctx.addIssue({ code: 'custom', path: ['admin', 'jwt', 'issuers', i], message: `${iss} is not one of auth.issuers (admin tokens are verified with their keys)` });
  });

export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;
export type IssuerConfig = ServiceConfig['auth']['issuers'][number];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Tree = { [k: string]: Json };

/** Environment variables and the config path they set, with how to read the text. */
const ENV: Array<{ name: string; path: string[]; as: 'string' | 'int' | 'bool' | 'list' | 'size' }> = [
  { name: 'PORT', path: ['server', 'port'], as: 'int' },
  { name: 'HOST', path: ['server', 'host'], as: 'string' },
  { name: 'LEADER_CDS_BASE_URL', path: ['server', 'baseUrl'], as: 'string' },
  { name: 'LEADER_CDS_BODY_LIMIT', path: ['server', 'bodyLimit'], as: 'size' },
  { name: 'LEADER_CDS_TIME_BUDGET_MS', path: ['server', 'timeBudgetMs'], as: 'int' },
  { name: 'LEADER_CDS_WORKERS', path: ['server', 'workers'], as: 'int' },
  { name: 'LEADER_CDS_FHIR_ALLOWED_SERVERS', path: ['fhir', 'allowedServers'], as: 'list' },
  { name: 'LEADER_CDS_MODEL_DIR', path: ['model', 'dir'], as: 'string' },
  { name: 'LEADER_CDS_MODEL_REGISTRY', path: ['model', 'registry'], as: 'string' },
  { name: 'LEADER_CDS_SCORE_CACHE_SIZE', path: ['model', 'scoreCacheSize'], as: 'int' },
  { name: 'LEADER_CDS_REDIS_URL', path: ['model', 'redis'], as: 'string' },
  { name: 'LEADER_CDS_ALLOW_MAPPING_MISMATCH', path: ['model', 'allowMappingMismatch'], as: 'bool' },
  { name: 'LEADER_CDS_MAPPING', path: ['mapping', 'path'], as: 'string' },
  { name: 'LEADER_CDS_AUTH_MODE', path: ['auth', 'mode'], as: 'string' },
  { name: 'LEADER_CDS_AUTH_FORCE_DISABLED', path: ['auth', 'forceDisabled'], as: 'bool' },
  { name: 'LEADER_CDS_CORS_ORIGINS', path: ['cors', 'origins'], as: 'list' },
  { name: 'LEADER_CDS_FEEDBACK_DB', path: ['feedback', 'db'], as: 'string' },
  { name: 'LEADER_CDS_LOG_LEVEL', path: ['log', 'level'], as: 'string' },
  { name: 'LEADER_CDS_QUEUES_REDIS', path: ['admin', 'queues', 'redis'], as: 'string' },
];

/** Fields holding file paths: resolved against the config file's folder, or the project root otherwise. */
const PATH_FIELDS: string[][] = [['model', 'dir'], ['model', 'registry'], ['mapping', 'path'], ['services', 'definitionsDir'], ['feedback', 'db']];

export interface LoadConfigOptions {
  /** Config file (JSON or YAML); falls back to LEADER_CDS_CONFIG. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line overrides, already typed. */
  overrides?: { port?: number };
  /** Folder that relative default paths are resolved against. */
  root?: string;
}

function setPath(tree: Tree, keys: string[], value: Json): void {
  let node: Tree = tree;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1]!] = value;
}

function getPath(tree: Tree, keys: string[]): Json | undefined {
  let node: Json | undefined = tree;
  for (const key of keys) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[key];
  }
  return node;
}

function readEnvValue(name: string, raw: string, as: (typeof ENV)[number]['as']): Json {
  switch (as) {
    case 'string':
      return raw;
    case 'size':
      return /^\d+$/.test(raw) ? Number(raw) : raw;
    case 'int': {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`environment variable ${name}: expected a whole number, got "${raw}"`);
      return Number(raw.trim());
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes'].includes(v)) return true;
      if (['0', 'false', 'no', ''].includes(v)) return false;
      throw new ConfigError(`environment variable ${name}: expected true or false, got "${raw}"`);
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
  }
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file}: the top level must be an object`);
  return parsed as Tree;
}

/** Loads and validates the configuration; throws ConfigError naming the file, field or variable at fault. */
export function loadConfig(options: LoadConfigOptions = {}): ServiceConfig {
  const env = options.env ?? process.env;
  const root = options.root ?? projectRoot;
  const file = options.file ?? (env.LEADER_CDS_CONFIG ? env.LEADER_CDS_CONFIG : undefined);
  const tree: Tree = file ? readConfigFile(file) : {};
  const fileDir = file ? path.dirname(path.resolve(file)) : root;
  const sources = new Map<string, string>();

  for (const keys of PATH_FIELDS) {
    const value = getPath(tree, keys);
    if (typeof value === 'string') setPath(tree, keys, path.resolve(fileDir, value));
  }
  const issuers = getPath(tree, ['auth', 'issuers']);
  if (Array.isArray(issuers))
    for (const issuer of issuers)
      if (issuer && typeof issuer === 'object' && !Array.isArray(issuer) && typeof issuer.jwksFile === 'string')
        issuer.jwksFile = path.resolve(fileDir, issuer.jwksFile);

  for (const { name, path: keys, as } of ENV) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value = readEnvValue(name, raw, as);
    if (typeof value === 'string' && PATH_FIELDS.some((p) => p.join('.') === keys.join('.'))) value = path.resolve(root, value);
    setPath(tree, keys, value);
    sources.set(keys.join('.'), `environment variable ${name}`);
  }
  if (options.overrides?.port !== undefined) {
    setPath(tree, ['server', 'port'], options.overrides.port);
    sources.set('server.port', 'option --port');
  }

  const result = ServiceConfigSchema.safeParse(tree);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const field = issue.path.join('.');
      // A list item's problem (fhir.allowedServers.0) came from where the list was set.
      const set = issue.path.map((_, i) => issue.path.slice(0, issue.path.length - i).join('.')).find((p) => sources.has(p));
      const origin = (set !== undefined ? sources.get(set) : undefined) ?? (file ? `config file ${file}` : 'configuration');
      return `${origin}: ${field || '(top level)'}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration\n  ${lines.join('\n  ')}`);
  }
  const config = result.data;
  // Defaults are relative to the project so that `npm start` works from any folder.
  for (const keys of PATH_FIELDS) {
    const value = getPath(config as unknown as Tree, keys);
    if (typeof value === 'string' && !path.isAbsolute(value)) setPath(config as unknown as Tree, keys, path.resolve(root, value));
  }
  if (config.auth.mode === 'disabled' && env.NODE_ENV === 'production' && !config.auth.forceDisabled)
    throw new ConfigError(
      'auth.mode is disabled while NODE_ENV=production: configure JWT issuers, or set auth.forceDisabled (LEADER_CDS_AUTH_FORCE_DISABLED=true) if you really mean it',
    );
  return config;
}
