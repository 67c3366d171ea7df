// `leader-cds shadow report`: what a shadow-mode service would have suggested, against what was ordered afterwards.
import type { Command } from 'commander';
import { CliError } from '../errors.ts';

interface ReportOptions {
  db: string;
  service?: string;
  mapping?: string;
  bulk?: string;
  fhirServer?: string;
  token?: string;
  window: string;
  out?: string;
  format: string;
}

async function report(opts: ReportOptions): Promise<void> {
  const { existsSync } = await import('node:fs');
  const { writeFile, mkdir } = await import('node:fs/promises');
  const path = await import('node:path');
  const { ShadowLog } = await import('../../shadow/log.ts');
  const { shadowReport } = await import('../../shadow/report.ts');
  const { renderHtml, renderMarkdown } = await import('../../shadow/render.ts');
  const orders = await import('../../shadow/orders.ts');
  const window = Number(opts.window);
  if (!Number.isFinite(window) || window <= 0) throw new CliError(`--window: expected hours > 0, got "${opts.window}"`, 2);
  if (!['md', 'html', 'both'].includes(opts.format)) throw new CliError(`--format: md, html or both, got "${opts.format}"`, 2);
  if (!existsSync(opts.db)) throw new CliError(`--db ${opts.db}: no such file (the service's feedback.db)`, 2);
  if ((opts.bulk || opts.fhirServer) && !opts.mapping) throw new CliError('--bulk and --fhir-server need --mapping (to turn their orders into labels)', 2);
  const log = new ShadowLog(opts.db);
  try {
    const calls = log.calls(opts.service);
    if (calls.length === 0) throw new CliError(`${opts.db}: no shadow-mode calls recorded${opts.service ? ` for service ${opts.service}` : ''}`, 1);
    const later = orders.fromObservedOrders(log.observedOrders());
    let names: Map<string, string> | undefined;
    if (opts.mapping) {
      const { loadMapping } = await import('../../mapping/load.ts');
      const { MappingError } = await import('../../mapping/errors.ts');
      let mapping;
      try {
        mapping = await loadMapping(opts.mapping);
      } catch (err) {
        if (err instanceof MappingError) throw new CliError(err.message, 2);
        throw err;
      }
      names = new Map(calls.flatMap((c) => c.suggestions.map((s) => [s.label, mapping.labelEntry(s.label)?.name ?? ''] as const)).filter(([, n]) => n !== ''));
      const patients = new Set(calls.map((c) => c.patientId));
      try {
        if (opts.bulk) later.push(...(await orders.fromBulkExport(opts.bulk, mapping, patients)));
        if (opts.fhirServer) later.push(...(await orders.fromFhirServer(opts.fhirServer, mapping, patients, opts.token ? { token: opts.token } : {})));
      } catch (err) {
        if (err instanceof orders.ShadowSourceError || (err as Error).name === 'BulkReadError') throw new CliError((err as Error).message, 1);
        throw err;
      }
    }
    const result = shadowReport(calls, later, { windowHours: window, ...(names ? { names } : {}) });
    const title = `Shadow report${opts.service ? `: ${opts.service}` : ''}`;
    const md = renderMarkdown(result, title);
    if (!opts.out) {
      process.stdout.write(md);
      return;
    }
    await mkdir(opts.out, { recursive: true });
    if (opts.format !== 'html') await writeFile(path.join(opts.out, 'shadow-report.md'), md);
    if (opts.format !== 'md') await writeFile(path.join(opts.out, 'shadow-report.html'), renderHtml(result, title));
    process.stdout.write(md);
    process.stdout.write(`\nwritten to ${opts.out}\n`);
  } finally {
    log.close();
  }
}

export function register(program: Command): void {
  const shadow = program.command('shadow').description('shadow mode: compare what a service would have suggested with what was ordered');
  shadow
    .command('report')
    .description('alert rate, suggestions per card and precision (per label and overall) of a shadow-mode service, beside a label-frequency recommender at the same alert rate')
    .requiredOption('--db <file>', "the service's feedback database (feedback.db in its config)")
    .option('--service <id>', 'only this service')
    .option('--mapping <file>', 'site mapping: turns orders from --bulk / --fhir-server into labels, names labels')
    .option('--bulk <dir>', 'a FHIR Bulk Data export folder with the MedicationRequests written since')
    .option('--fhir-server <url>', "read each patient's MedicationRequests from this FHIR server")
    .option('--token <token>', 'bearer token for --fhir-server')
    .option('--window <hours>', 'orders up to this long after a call count as ordered afterwards', '48')
    .option('--out <dir>', 'write shadow-report.md / .html here (else Markdown to stdout)')
    .option('--format <md|html|both>', 'what --out writes', 'both')
    .action(report);
}
