// `leader-cds dataset build`: a bulk-export folder + mapping -> the training set (JSON lines) and its summary.
import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { asCliError, type BulkCommandOptions } from './mapping.ts';
import { mappingFingerprint } from '../../mapping/fingerprint.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function build(opts: BulkCommandOptions & { out: string; json?: boolean }): Promise<void> {
  const { loadMapping } = await import('../../mapping/load.ts');
  const { parseConceptMapOptions } = await import('../../mapping/overrides.ts');
  const { readBulk } = await import('../../fhir/bulk-reader.ts');
  const { bulkProgressBar } = await import('../../fhir/bulk-progress.ts');
  const { collectNames, recordsFromHistory } = await import('../../dataset/records.ts');
  const { DatasetWriter } = await import('../../dataset/io.ts');
  const { CoverageCollector, explainEmptyDataset } = await import('../../mapping/coverage.ts');
  await asCliError(async () => {
    const mapping = await loadMapping(opts.mapping, { conceptMaps: parseConceptMapOptions(opts.conceptMap) });
    // Open the output first: a bad --out path fails before the input is read.
    let writer;
    try {
      writer = await DatasetWriter.open(opts.out, { mapping: mapping.name, mappingFingerprint: mappingFingerprint(mapping.config), labelSpace: mapping.labelSpace });
    } catch (err) {
      throw new CliError(`--out: ${(err as Error).message}`, 2);
    }
    const progress = bulkProgressBar('reading');
    let read;
    const names = new Map<string, string>();
    const skipped: Record<string, number> = {};
    // Coverage rides along so that an empty result can say why (systems seen vs configured).
    const coverage = new CoverageCollector();
    try {
      try {
        read = await readBulk(opts.input, { mapping, sink: coverage, onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
      for (const history of read.histories()) {
        coverage.history(history);
        collectNames(history, mapping, names);
        for (const record of recordsFromHistory(history, mapping, skipped)) await writer.write(record);
      }
    } catch (err) {
      // No half-written dataset left behind to be mistaken for a result.
      await writer.close(names, skipped).catch(() => undefined);
      await rm(opts.out, { force: true });
      throw err;
    }
    const summary = await writer.close(names, skipped);
    if (summary.encounters === 0) {
      // An empty training set is a failed build, not a result: remove it and say why.
      await rm(opts.out, { force: true });
      const why = explainEmptyDataset(coverage.report(mapping, opts.input, read.issues), skipped);
      throw new CliError(`dataset build: no records written (${opts.out} removed):\n  ${why}`, 1);
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ out: opts.out, summary, input: read.stats, issues: read.issues.toJSON() }, null, 2)}\n`);
      return;
    }
    const labels = Object.entries(summary.labelFrequencies);
    const lines = [
      `wrote ${opts.out}`,
      `patients:                 ${summary.patients}`,
      `encounters (records):     ${summary.encounters}`,
      `single-encounter patients: ${summary.singleEncounterPatients}`,
      `multi-encounter patients:  ${summary.multiEncounterPatients}`,
      `skipped encounters:       ${Object.entries(summary.skippedEncounters).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
      `distinct labels:          ${labels.length}`,
      `top labels:               ${labels.slice(0, 15).map(([l, n]) => `${l} ${n}`).join(', ')}`,
      `fingerprint:              ${summary.fingerprint}`,
      `input:                    ${read.stats.files.length} files, ${read.stats.lines} lines, ${read.stats.patients} patients`,
    ];
    const issueLines = read.issues.format();
    if (issueLines.length > 0) lines.push(`input issues (${read.issues.count()}):`, ...issueLines.map((l) => `  ${l}`));
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

export function register(program: Command): void {
  const dataset = program.command('dataset').description('training sets built from FHIR bulk exports');
  dataset
    .command('build')
    .description('one record per eligible encounter (history, profile, labels) as JSON lines, plus a summary')
    .requiredOption('--mapping <file>', 'mapping config (JSON or YAML)')
    .requiredOption('--input <folder>', 'bulk-export folder of .ndjson / .ndjson.gz files')
    .requiredOption('--out <file>', 'dataset file to write (JSON lines)')
    .option('--json', 'print the summary as JSON')
    .option('--concept-map <name=path>', 'use this file for the named concept-map source (repeatable)', collect, [] as string[])
    .action(build);
}
