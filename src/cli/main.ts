// `leader-cds` command line: each area registers its commands from src/cli/commands/<area>.ts.
import { Command, CommanderError } from 'commander';
import { CliError } from './errors.ts';

type Register = (program: Command) => void;

// Loaded lazily so that `leader-cds synth` does not pay for onnxruntime or tfjs start-up.
const areas: Array<() => Promise<{ register: Register }>> = [
  () => import('./commands/mapping.ts'),
  () => import('./commands/dataset.ts'),
  () => import('./commands/evaluate.ts'),
  () => import('./commands/serve.ts'),
  () => import('./commands/synth.ts'),
  () => import('./commands/teacher.ts'),
  () => import('./commands/model.ts'),
];

export async function main(argv: string[]): Promise<number> {
  const program = new Command('leader-cds')
    .description('LEADER medication recommendation over FHIR R4 and CDS Hooks')
    .exitOverride()
    .showHelpAfterError();
  for (const load of areas) (await load()).register(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError) {
      process.stderr.write(`leader-cds: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
