// CDS service definitions as data (cds-hooks/*.json): what discovery lists. Handlers supply behaviour;
// the data supplies id, title, description, prefetch templates and usage requirements.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { CdsService } from './contracts.ts';
import { prefetchTemplates, type PrefetchKey } from './prefetch/keys.ts';

/** Hooks this product's handlers answer; their prefetch templates must be exactly the ones the handlers read. */
export const HANDLED_HOOKS: ReadonlySet<string> = new Set(['order-select', 'order-sign']);

// Prefetch tokens the spec allows: top-level context fields and the user shortcuts.
const TOKEN = /\{\{\s*(context\.[A-Za-z][A-Za-z0-9]*|userPractitionerId|userPractitionerRoleId|userPatientId|userRelatedPersonId)\s*\}\}/g;

export const ServiceDefinitionSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dot, dash and underscore (it is a URL path segment)'),
    hook: z.string().min(1),
    title: z.string().min(1).optional(),
    description: z.string().min(1),
    prefetch: z
      .record(
        z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'a prefetch key'),
        z
          .string()
          .min(1)
          .refine((t) => !t.replace(TOKEN, '').includes('{{'), 'unknown prefetch token'),
      )
      .optional(),
    usageRequirements: z.string().min(1).optional(),
    /**
     * `live`: cards as designed. `shadow`: safety warnings only; what would have been suggested is recorded for
     * `leader-cds shadow report` (docs/shadow-mode.md). Not part of discovery.
     */
    mode: z.enum(['live', 'shadow']).default('live'),
  })
  .strict();

export type ServiceDefinition = z.infer<typeof ServiceDefinitionSchema>;

export class DefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DefinitionError';
  }
}

export function loadServiceDefinitions(dir: string): ServiceDefinition[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    throw new DefinitionError(`service definitions folder ${dir}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (files.length === 0) throw new DefinitionError(`service definitions folder ${dir}: no *.json definitions`);
  const out: ServiceDefinition[] = [];
  for (const name of files) {
    const file = path.join(dir, name);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new DefinitionError(`service definition ${file}: ${(err as Error).message}`);
    }
    const result = ServiceDefinitionSchema.safeParse(raw);
    if (!result.success)
      throw new DefinitionError(
        `service definition ${file}: ${result.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`,
      );
    if (out.some((d) => d.id === result.data.id)) throw new DefinitionError(`service definition ${file}: duplicate id ${result.data.id}`);
    // Checked at start: a template the handlers do not read would be fetched twice, or never used.
    if (HANDLED_HOOKS.has(result.data.hook)) {
      for (const [key, template] of Object.entries(result.data.prefetch ?? {})) {
        const ours = prefetchTemplates[key as PrefetchKey];
        if (ours === undefined) throw new DefinitionError(`service definition ${file}: prefetch key '${key}' is not one the handlers read (${Object.keys(prefetchTemplates).join(', ')})`);
        if (ours !== template) throw new DefinitionError(`service definition ${file}: prefetch '${key}' is '${template}', the handlers expect '${ours}'`);
      }
    }
    out.push(result.data);
  }
  return out;
}

/**
 * Gives each definition its handler: the service with the same id, else the one for the same hook.
 * The definition's discovery fields win, so discovery is what the data says.
 */
export function bindDefinitions(definitions: readonly ServiceDefinition[], handlers: readonly CdsService[]): CdsService[] {
  return definitions.map((def) => {
    const handler = handlers.find((h) => h.id === def.id) ?? handlers.find((h) => h.hook === def.hook);
    if (!handler) throw new DefinitionError(`service definition ${def.id}: no handler for hook ${def.hook}`);
    const bound: CdsService = {
      id: def.id,
      hook: def.hook,
      description: def.description,
      handle: (request, call) => handler.handle(request, call),
    };
    if (def.title !== undefined) bound.title = def.title;
    if (def.prefetch !== undefined) bound.prefetch = def.prefetch;
    if (def.usageRequirements !== undefined) bound.usageRequirements = def.usageRequirements;
    return bound;
  });
}

/** The discovery document entry of a service: only the spec's fields, and only those with a value. */
export function discoveryEntry(service: CdsService): Record<string, unknown> {
  const entry: Record<string, unknown> = { hook: service.hook, id: service.id, description: service.description };
  if (service.title !== undefined) entry.title = service.title;
  if (service.prefetch !== undefined && Object.keys(service.prefetch).length > 0) entry.prefetch = service.prefetch;
  if (service.usageRequirements !== undefined) entry.usageRequirements = service.usageRequirements;
  return entry;
}
