// THE wiring point between the edge and the rest of leader-cds: model runtime, mapping and hook handlers.
// Everything the handlers need from the edge goes in through the ports built here.
import type { Logger } from 'pino';
import type { CdsService } from './contracts.ts';
import type { ServiceConfig } from './config.ts';
import type { FeedbackStore } from './feedback/store.ts';
import type { ServiceMetrics } from './ops/metrics.ts';

export interface WiringDeps {
  config: ServiceConfig;
  metrics: ServiceMetrics;
  feedbackStore: FeedbackStore;
  logger: Logger;
}

export class WiringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WiringError';
  }
}

/** Loads the mapping and model named by the config and builds the hook handlers. */
export async function loadHookServices(deps: WiringDeps): Promise<CdsService[]> {
  // src/service/hooks/services.ts (createHookServices) has not landed yet: when it does, build the mapping
  // (src/mapping/load.ts) and model (src/model/runtime/**) from deps.config here and pass them with the ports
  // from ops/hook-metrics.ts (hookMetricsPort) and feedback/card-log.ts (cardLogPort).
  throw new WiringError(
    `hook handlers are not available in this build (src/service/hooks/services.ts); model ${deps.config.model.dir}, mapping ${deps.config.mapping.path} not loaded`,
  );
}
