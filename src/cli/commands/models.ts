// `leader-cds models list|promote|rollback`: the on-disk model registry.
import type { Command } from 'commander';
import { CliError } from '../errors.ts';

const DEFAULT_REGISTRY = 'models';

async function withRegistry<T>(root: string, fn: (registry: import('../../retrain/registry.ts').ModelRegistry) => Promise<T>): Promise<T> {
  const { ModelRegistry, RegistryError } = await import('../../retrain/registry.ts');
  const { ModelLoadError } = await import('../../model/runtime/errors.ts');
  try {
    return await fn(new ModelRegistry(root));
  } catch (err) {
    if (err instanceof RegistryError || err instanceof ModelLoadError) throw new CliError(err.message);
    throw err;
  }
}

export function register(program: Command): void {
  const models = program.command('models').description('the model registry: which version the service answers with');
  models
    .command('list')
    .description('registered versions, their status and gate results')
    .option('--registry <dir>', 'registry folder', DEFAULT_REGISTRY)
    .option('--json', 'print JSON')
    .action(async (opts: { registry: string; json?: boolean }) => {
      await withRegistry(opts.registry, async (registry) => {
        const list = await registry.list();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        if (list.length === 0) {
          process.stdout.write(`no versions registered in ${registry.root}\n`);
          return;
        }
        const rows = list.map((v) => ({
          ' ': v.current ? '*' : '',
          version: v.version,
          status: v.status,
          registered: v.registeredAt.slice(0, 19),
          gate: v.gate ? (v.gate.passed ? 'passed' : `failed: ${v.gate.reasons.find((r) => !r.includes('within') && !r.includes('not worse')) ?? ''}`) : '',
        }));
        console.table(rows);
      });
    });
  models
    .command('promote <version>')
    .description('serve this version (running services pick it up without a restart)')
    .option('--registry <dir>', 'registry folder', DEFAULT_REGISTRY)
    .option('--redis <url>', 'also notify services through Redis')
    .action(async (version: string, opts: { registry: string; redis?: string }) => {
      await withRegistry(opts.registry, async (registry) => {
        const moved = await registry.promote(version);
        if (opts.redis) await (await import('../../retrain/notify.ts')).publishPromotion(opts.redis, moved.to);
        process.stdout.write(`serving ${moved.to} (was ${moved.from ?? 'nothing'})\n`);
      });
    });
  models
    .command('rollback')
    .description('serve the version that was current before the last promotion')
    .option('--registry <dir>', 'registry folder', DEFAULT_REGISTRY)
    .option('--redis <url>', 'also notify services through Redis')
    .action(async (opts: { registry: string; redis?: string }) => {
      await withRegistry(opts.registry, async (registry) => {
        const moved = await registry.rollback();
        if (opts.redis) await (await import('../../retrain/notify.ts')).publishPromotion(opts.redis, moved.to);
        process.stdout.write(`serving ${moved.to} (was ${moved.from ?? 'nothing'})\n`);
      });
    });
}
