// The CDS services this product offers: discovery definitions from cds-hooks/*.json, each bound to its handler.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallContext, CdsService, CdsResponse, HookRequest } from '../contracts.ts';
import { DefinitionError, loadServiceDefinitions } from '../definitions.ts';
import { handleOrderSelect } from './order-select.ts';
import { handleOrderSign } from './order-sign.ts';
import type { HookDeps } from './prepare.ts';

export const definitionsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../cds-hooks');

type Handler = (serviceId: string, request: HookRequest, call: CallContext, deps: HookDeps) => Promise<CdsResponse>;

const handlers: Record<string, Handler> = {
  'order-select': handleOrderSelect,
  'order-sign': handleOrderSign,
};

export function createHookServices(deps: HookDeps & { definitionsDir?: string }): CdsService[] {
  const services: CdsService[] = [];
  // The one definition loader (src/service/definitions.ts): the same schema and checks as at start-up.
  for (const def of loadServiceDefinitions(deps.definitionsDir ?? definitionsDir)) {
    const handler = handlers[def.hook];
    if (!handler) throw new DefinitionError(`service definition ${def.id}: no handler for hook '${def.hook}' (have ${Object.keys(handlers).join(', ')})`);
    const serviceDeps: HookDeps = { ...deps, mode: def.mode };
    services.push({
      id: def.id,
      hook: def.hook,
      ...(def.title ? { title: def.title } : {}),
      description: def.description,
      ...(def.prefetch ? { prefetch: def.prefetch } : {}),
      ...(def.usageRequirements ? { usageRequirements: def.usageRequirements } : {}),
      handle: (request, call) => handler(def.id, request, call, serviceDeps),
    });
  }
  return services;
}
