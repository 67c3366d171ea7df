// `leader-cds synth`: writes a synthetic FHIR R4 cohort as a bulk-export-style NDJSON folder.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { CliError } from '../errors.ts';
import { DEFAULT_MAX_ENCOUNTERS, writeCohort } from '../../synth/generator.ts';

function integer(name: string, min: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be an integer, got "${value}"`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}"`);
    return n;
  };
}

interface SynthOptions {
  patients: number;
  seed: number;
  out: string;
  gzip?: boolean;
  maxEncounters: number;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command('synth')
    .description('write a synthetic FHIR R4 cohort (Patient, Encounter, Condition, Procedure, Medication, MedicationRequest) as bulk-export NDJSON')
    .requiredOption('--patients <n>', 'number of patients', integer('--patients', 1))
    .option('--seed <s>', 'random seed (same seed, same bytes)', integer('--seed', -2147483648), 1)
    .requiredOption('--out <folder>', 'output folder')
    .option('--gzip', 'write .ndjson.gz files')
    .option('--max-encounters <k>', 'maximum encounters per patient', integer('--max-encounters', 1), DEFAULT_MAX_ENCOUNTERS)
    .option('--force', 'write into a folder that already has files')
    .action(async (opts: SynthOptions) => {
      if (opts.seed > 2147483647) throw new CliError(`--seed must fit in 32 bits, got ${opts.seed}`);
      const out = resolve(opts.out);
      if (existsSync(out)) {
        if (!statSync(out).isDirectory()) throw new CliError(`--out ${out} exists and is not a folder`);
        if (readdirSync(out).length > 0 && !opts.force) throw new CliError(`--out ${out} is not empty (use --force to write into it)`);
      }
      const started = Date.now();
      const bar =
        opts.patients >= 1000 && process.stderr.isTTY !== false
          ? new SingleBar({ format: 'synth [{bar}] {value}/{total} patients {eta}s', stream: process.stderr, hideCursor: true }, Presets.shades_classic)
          : undefined;
      bar?.start(opts.patients, 0);
      let summary;
      try {
        summary = await writeCohort({
          seed: opts.seed,
          patients: opts.patients,
          maxEncounters: opts.maxEncounters,
          out,
          gzip: opts.gzip ?? false,
          onPatient: bar ? (n) => (n % 250 === 0 || n === opts.patients ? bar.update(n) : undefined) : undefined,
        });
      } catch (err) {
        throw new CliError(`synth: writing ${out} failed: ${(err as Error).message}`);
      } finally {
        bar?.stop();
      }
      const c = summary.counts;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        `synth: ${c.Patient} patients, ${c.Encounter} encounters, ${c.Condition} conditions, ${c.Procedure} procedures, ` +
          `${c.MedicationRequest} medication requests, ${c.Medication} medications -> ${out} (seed ${opts.seed}, ${secs}s)\n`,
      );
    });
}
