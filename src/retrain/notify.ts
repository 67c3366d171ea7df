// Promotion notices: services subscribe on Redis when it is configured; otherwise they watch registry.json.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, basename } from 'node:path';
import Redis from 'ioredis';

export const PROMOTION_CHANNEL = 'leader-cds:model-promoted';

export async function publishPromotion(redisUrl: string, version: string): Promise<void> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await client.connect();
    await client.publish(PROMOTION_CHANNEL, JSON.stringify({ version, at: new Date().toISOString() }));
  } finally {
    client.disconnect();
  }
}

export interface Subscription {
  close(): Promise<void>;
}

export async function subscribePromotions(redisUrl: string, onPromoted: (version: string) => void): Promise<Subscription> {
  const client = new Redis(redisUrl, { lazyConnect: true });
  await client.connect();
  await client.subscribe(PROMOTION_CHANNEL);
  client.on('message', (_channel: string, message: string) => {
    try {
      const { version } = JSON.parse(message) as { version?: unknown };
      if (typeof version === 'string') onPromoted(version);
    } catch {
      // a malformed notice is ignored: the registry file stays the source of truth
    }
  });
  return { close: async () => void client.disconnect() };
}

/**
 * Calls `onChange` when registry.json changes. fs.watch on the folder sees the atomic rename that writes it;
 * a slow poll of its mtime covers file systems where watch events do not arrive.
 */
export function watchRegistry(registryFile: string, onChange: () => void, pollMs = 2000): Subscription {
  const mtimeOf = () => stat(registryFile).then((s) => s.mtimeMs, () => 0);
  // The first reading is the baseline: only later changes are reported.
  let last: Promise<number> = mtimeOf();
  const check = () => {
    last = last.then(async (previous) => {
      const now = await mtimeOf();
      if (now !== previous) onChange();
      return now;
    });
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(registryFile), (_event, name) => {
      if (name === basename(registryFile)) check();
    });
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(check, pollMs);
  timer.unref();
  return {
    close: async () => {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
