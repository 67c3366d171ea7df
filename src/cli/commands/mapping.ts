// `leader-cds mapping check`: how well a mapping covers a bulk-export folder (table or JSON).
import type { Command } from 'commander';
import { CliError } from '../errors.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseTop(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new CliError(`--top: expected a positive whole number, got "${value}"`);
  return Number(value);
}

export interface BulkCommandOptions {
  mapping: string;
  input: string;
  conceptMap: string[];
}

/** Errors of the mapping and bulk modules become one-line CLI messages naming file and line. */
export async function asCliError<T>(work: () => Promise<T>): Promise<T> {
  const { MappingError } = await import('../../mapping/errors.ts');
  const { BulkReadError } = await import('../../fhir/bulk-reader.ts');
  const { DatasetError } = await import('../../dataset/io.ts');
  try {
    return await work();
  } catch (err) {
    if (err instanceof MappingError) throw new CliError(`mapping: ${err.message}`, 2);
    if (err instanceof BulkReadError || err instanceof DatasetError) throw new CliError(err.message, 2);
    throw err;
  }
}

async function check(opts: BulkCommandOptions & { json?: boolean; top: number; strict?: boolean }): Promise<void> {
  const { loadMapping } = await import('../../mapping/load.ts');
  const { parseConceptMapOptions } = await import('../../mapping/overrides.ts');
  const { readBulk } = await import('../../fhir/bulk-reader.ts');
  const { bulkProgressBar } = await import('../../fhir/bulk-progress.ts');
  const { CoverageCollector, renderCoverageTable } = await import('../../mapping/coverage.ts');
  await asCliError(async () => {
    const mapping = await loadMapping(opts.mapping, { conceptMaps: parseConceptMapOptions(opts.conceptMap) });
    const coverage = new CoverageCollector();
    const progress = bulkProgressBar('reading');
    let read;
    try {
      read = await readBulk(opts.input, { mapping, sink: coverage, onProgress: progress.onProgress });
    } finally {
      progress.stop();
    }
    for (const history of read.histories()) coverage.history(history);
    const report = coverage.report(mapping, read.stats.files.length > 0 ? opts.input : opts.input, read.issues, opts.top);
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderCoverageTable(report)}\n`);
    if (opts.strict && report.warnings.length > 0) {
      throw new CliError(`mapping check --strict: ${report.warnings.length} warning(s), first: ${report.warnings[0]!.kind}: ${report.warnings[0]!.message}`, 1);
    }
  });
}

export function register(program: Command): void {
  const mapping = program.command('mapping').description('site mapping configs (mappings/*.json)');
  mapping
    .command('check')
    .description('coverage of a mapping on a bulk-export folder: encounters, patients, mapped shares, top unmapped codes')
    .requiredOption('--mapping <file>', 'mapping config (JSON or YAML)')
    .requiredOption('--input <folder>', 'bulk-export folder of .ndjson / .ndjson.gz files')
    .option('--json', 'print the report as JSON instead of a table')
    .option('--top <n>', 'unmapped codes to list per kind', parseTop, 20)
    .option('--strict', 'exit 1 when the check has warnings (a configured code system that matches nothing, a kind with nothing mapped)')
    .option('--concept-map <name=path>', 'use this file for the named concept-map source (repeatable)', collect, [] as string[])
    .action(check);
}
