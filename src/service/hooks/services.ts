// The CDS services this product offers: discovery definitions from cds-hooks/*.json, each bound to its handler.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { CallContext, CdsService, CdsResponse, HookRequest } from '../contracts.ts';
import { prefetchTemplates, type PrefetchKey } from '../prefetch/keys.ts';
import { handleOrderSelect } from './order-select.ts';
import { handleOrderSign } from './order-sign.ts';
import type { HookDeps } from './prepare.ts';

export const definitionsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../cds-hooks');

const Definition = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
    hook: z.string().min(1),
    title: z.string().optional(),
    description: z.string().min(1),
    prefetch: z.record(z.string(), z.string()).optional(),
    usageRequirements: z.string().optional(),
  })
  .passthrough();

type Handler = (serviceId: string, request: HookRequest, call: CallContext, deps: HookDeps) => Promise<CdsResponse>;

const handlers: Record<string, Handler> = {
  'order-select': handleOrderSelect,
  'order-sign': handleOrderSign,
};

export function readDefinitions(dir = definitionsDir): Array<z.infer<typeof Definition>> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  return files.map((f) => {
    const path = join(dir, f);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
    }
    const parsed = Definition.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${path}: ${issue?.path.join('.') || '(top level)'} ${issue?.message ?? 'invalid'}`);
    }
    // The handlers resolve exactly these keys; a template asking for something else would be fetched twice.
    for (const [key, template] of Object.entries(parsed.data.prefetch ?? {})) {
      const ours = prefetchTemplates[key as PrefetchKey];
      if (ours === undefined) throw new Error(`${path}: prefetch key '${key}' is not one the handlers read (${Object.keys(prefetchTemplates).join(', ')})`);
      if (ours !== template) throw new Error(`${path}: prefetch '${key}' is '${template}', the handlers expect '${ours}'`);
    }
    return parsed.data;
  });
}

export function createHookServices(deps: HookDeps & { definitionsDir?: string }): CdsService[] {
  const services: CdsService[] = [];
  for (const def of readDefinitions(deps.definitionsDir)) {
    const handler = handlers[def.hook];
    if (!handler) throw new Error(`cds-hooks/${def.id}: no handler for hook '${def.hook}' (have ${Object.keys(handlers).join(', ')})`);
    services.push({
      id: def.id,
      hook: def.hook,
      ...(def.title ? { title: def.title } : {}),
      description: def.description,
      ...(def.prefetch ? { prefetch: def.prefetch } : {}),
      ...(def.usageRequirements ? { usageRequirements: def.usageRequirements } : {}),
      handle: (request, call) => handler(def.id, request, call, deps),
    });
  }
  return services;
}
