// Hot swap: when the registry promotes a version, load it beside the serving one, switch new requests to it, and
// release the old model only after every request that started on it has had time to finish (each call has a hard
// time budget, so a grace period of a few budgets is enough). Requests are never dropped or failed by a swap.
import type { Logger } from 'pino';
import type { CdsService } from './contracts.ts';
import { ModelRegistry } from '../retrain/registry.ts';
import { subscribePromotions, watchRegistry, type Subscription } from '../retrain/notify.ts';

export interface LoadedModelServices {
  version: string;
  services: CdsService[];
  close(): Promise<void>;
}

export interface HotSwapOptions {
  registryRoot: string;
  redisUrl?: string;
  /** Builds the hook services for a model directory. */
  load: (modelDir: string) => Promise<LoadedModelServices>;
  /** Points new requests at these services. */
  apply: (loaded: LoadedModelServices) => void;
  logger: Logger;
  /** How long the previous model stays open after a swap. */
  graceMs: number;
}

export class ModelHotSwap {
  private serving: LoadedModelServices | undefined;
  private subscriptions: Subscription[] = [];
  private chain: Promise<void> = Promise.resolve();
  private timers = new Set<NodeJS.Timeout>();
  private readonly registry: ModelRegistry;

  constructor(private readonly options: HotSwapOptions) {
    this.registry = new ModelRegistry(options.registryRoot);
  }

  get version(): string | undefined {
    return this.serving?.version;
  }

  /** Starts serving `initial` and listens for promotions. */
  async start(initial: LoadedModelServices): Promise<void> {
    this.serving = initial;
    this.options.apply(initial);
    this.subscriptions.push(watchRegistry(this.registry.file, () => this.reload('registry file changed')));
    if (this.options.redisUrl) {
      try {
        this.subscriptions.push(await subscribePromotions(this.options.redisUrl, (version) => this.reload(`promotion notice for ${version}`)));
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, 'Redis promotion notices unavailable; watching the registry file only');
      }
    }
  }

  /** Serializes reloads: two notices for one promotion load the model once. */
  reload(reason: string): Promise<void> {
    this.chain = this.chain.then(() => this.reloadNow(reason)).catch((err: unknown) => {
      this.options.logger.error({ err: (err as Error).message, reason }, 'model swap failed; still serving the previous model');
    });
    return this.chain;
  }

  private async reloadNow(reason: string): Promise<void> {
    const current = await this.registry.currentDir();
    if (!current || current.version === this.serving?.version) return;
    const next = await this.options.load(current.dir);
    const previous = this.serving;
    this.serving = next;
    this.options.apply(next);
    this.options.logger.info({ from: previous?.version, to: next.version, reason }, 'serving a newly promoted model');
    if (previous) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void previous.close().catch(() => undefined);
      }, this.options.graceMs);
      timer.unref();
      this.timers.add(timer);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.close()));
    this.subscriptions = [];
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.chain;
  }
}
