// `leader-cds serve` runs the CDS Hooks service; `leader-cds feedback summary` reads the feedback database.
import type { Command } from 'commander';
// The service modules are imported inside the actions: registering commands must not load express, SQLite
// or the model runtime for every other command of the CLI.
import { CliError } from '../errors.ts';
import type { FeedbackSummary } from '../../service/feedback/store.ts';

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new CliError(`--port: expected a port number 0-65535, got "${value}"`);
  return Number(value);
}

async function serve(opts: { config?: string; port?: string }): Promise<void> {
  const { ConfigError, loadConfig } = await import('../../service/config.ts');
  const { DefinitionError } = await import('../../service/definitions.ts');
  const { ServiceError } = await import('../../service/contracts.ts');
  const { startService } = await import('../../service/server.ts');
  const { onSignals } = await import('../../service/ops/shutdown.ts');
  let config;
  try {
    config = loadConfig({
      ...(opts.config !== undefined ? { file: opts.config } : {}),
      overrides: opts.port !== undefined ? { port: parsePort(opts.port) } : {},
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  const { default: cluster } = await import('node:cluster');
  if (config.server.workers > 1 && cluster.isPrimary) {
    // Workers re-run this command (cluster forks the same argv) and take the single-process path below.
    const { runPrimary } = await import('../../service/cluster.ts');
    const { createLogger } = await import('../../service/ops/logger.ts');
    const code = await runPrimary({ workers: config.server.workers, logger: createLogger(config.log.level) });
    if (code !== 0) throw new CliError('the service workers could not start or keep running (see the log above)', code);
    return;
  }
  let running;
  try {
    running = await startService(config);
  } catch (err) {
    // A worker that cannot start must end (its IPC channel would keep it alive), so that the primary sees it fail.
    if (cluster.isWorker) cluster.worker?.disconnect();
    if (err instanceof DefinitionError || err instanceof ServiceError) throw new CliError(err.message, 2);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES')
      throw new CliError(`cannot listen on ${config.server.host}:${config.server.port} (${code})`, 2);
    if (code === 'SQLITE_CANTOPEN' || code === 'EACCES')
      throw new CliError(`feedback database ${config.feedback.db}: cannot open it (${code})`, 2);
    throw err;
  }
  try {
    await running.loaded;
  } catch (err) {
    // Start-up errors end the process (readiness is for hot swaps): an EHR must not see a healthy service with no hooks.
    await running.shutdown();
    if (cluster.isWorker) cluster.worker?.disconnect();
    throw new CliError(`cannot serve: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
  const stopSignals = onSignals(running.shutdown, running.logger);
  await new Promise<void>((resolve) => running.server.once('close', () => resolve()));
  await running.shutdown();
  stopSignals();
}

function formatSummary(summary: FeedbackSummary): string {
  const header = ['model version', 'label', 'issued', 'with feedback', 'accepted', 'overridden', 'acceptance'];
  const rows = summary.rows.map((r) => [
    r.modelVersion,
    r.label,
    String(r.issued),
    String(r.withFeedback),
    String(r.accepted),
    String(r.overridden),
    r.acceptanceRate === null ? '-' : `${(r.acceptanceRate * 100).toFixed(1)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  if (rows.length === 0) out.push('(no cards recorded)');
  out.push('', `feedback items: ${summary.totalFeedback}; about cards not recorded here: ${summary.unmatchedFeedback}`);
  return out.join('\n');
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the CDS Hooks 2.0 service (order-select, order-sign) with the configured model and mapping')
    .option('--config <file>', 'configuration file (JSON or YAML); default: $LEADER_CDS_CONFIG or built-in defaults')
    .option('--port <n>', 'port to listen on (overrides config and $PORT)')
    .action(serve);

  const feedback = program.command('feedback').description('clinician feedback on cards');
  feedback
    .command('summary')
    .description('acceptance rate per model version and label')
    .option('--db <path>', 'feedback database', 'var/feedback.sqlite')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { db: string; json?: boolean }) => {
      const { openExistingStore } = await import('../../service/feedback/store.ts');
      let store;
      try {
        store = openExistingStore(opts.db);
      } catch (err) {
        throw new CliError(`feedback database ${opts.db}: ${(err as Error).message}`);
      }
      try {
        const summary = store.summary();
        process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
      } finally {
        store.close();
      }
    });
}
