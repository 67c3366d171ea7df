// `leader-cds` command line: each area registers its commands from src/cli/commands/<area>.ts.
import { Command, CommanderError } from 'commander';
import { CliError } from './errors.ts';

type Register = (program: Command) => void;

// Each area is imported only when its command runs, so `leader-cds synth` does not pay for onnxruntime or tfjs
// start-up; help and unknown commands load them all.
const areas: Record<string, () => Promise<{ register: Register }>> = {
  mapping: () => import('./commands/mapping.ts'),
  dataset: () => import('./commands/dataset.ts'),
  evaluate: () => import('./commands/evaluate.ts'),
  serve: () => import('./commands/serve.ts'),
  feedback: () => import('./commands/serve.ts'),
  synth: () => import('./commands/synth.ts'),
  prompt: () => import('./commands/teacher.ts'),
  teacher: () => import('./commands/teacher.ts'),
  distill: () => import('./commands/teacher.ts'),
  train: () => import('./commands/model.ts'),
  recommend: () => import('./commands/model.ts'),
  models: () => import('./commands/models.ts'),
  retrain: () => import('./commands/retrain.ts'),
  worker: () => import('./commands/retrain.ts'),
  shadow: () => import('./commands/shadow.ts'),
};

async function registerAreas(program: Command, command: string | undefined): Promise<void> {
  const loaders = command && areas[command] ? [areas[command]] : [...new Set(Object.values(areas))];
  const loaded = new Set<unknown>();
  for (const load of loaders) {
    const area = await load();
    if (loaded.has(area.register)) continue;
    loaded.add(area.register);
    area.register(program);
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('leader-cds')
    .description('LEADER medication recommendation over FHIR R4 and CDS Hooks')
    .exitOverride()
    .showHelpAfterError();
  await registerAreas(program, argv[2]);
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
