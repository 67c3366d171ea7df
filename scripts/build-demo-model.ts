// Builds models/demo: the synthetic cohort (3,000 patients, seed 7) -> dataset with mappings/synthetic.json ->
// LEADER(S) at d=64 on the wasm backend, seed 42. `npm run demo-model` reproduces it (same backend, same weights).
//   npm run demo-model [-- --out models/demo --epochs 4 --patience 2]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(root, 'models', 'demo') },
    patients: { type: 'string', default: '3000' },
    'synth-seed': { type: 'string', default: '7' },
    seed: { type: 'string', default: '42' },
    epochs: { type: 'string', default: '4' },
    patience: { type: 'string', default: '2' },
    'learning-rate': { type: 'string', default: '0.002' },
    backend: { type: 'string', default: 'wasm' },
  },
});

const work = path.join(os.tmpdir(), `leader-cds-demo-${process.pid}`);
const cohort = path.join(work, 'cohort');
const dataset = path.join(work, 'synthetic.jsonl');
const mapping = path.join(root, 'mappings', 'synthetic.json');
const cli = (args: string[]) => {
  process.stderr.write(`$ leader-cds ${args.join(' ')}\n`);
  execFileSync(process.execPath, [path.join(root, 'bin', 'leader-cds.js'), ...args], { cwd: root, stdio: 'inherit' });
};

mkdirSync(work, { recursive: true });
try {
  cli(['synth', '--patients', values.patients!, '--seed', values['synth-seed']!, '--out', cohort]);
  cli(['dataset', 'build', '--mapping', mapping, '--input', cohort, '--out', dataset]);
  cli([
    'train',
    '--dataset', dataset,
    '--mapping', mapping,
    '--out', values.out!,
    '--dim', '64',
    '--batch-size', '64',
    '--epochs', values.epochs!,
    '--patience', values.patience!,
    '--learning-rate', values['learning-rate']!,
    '--seed', values.seed!,
    '--backend', values.backend!,
    '--model-version', `demo-synthetic-${values.patients}-s${values['synth-seed']}-seed${values.seed}`,
    '--created-at', '2026-01-01T00:00:00.000Z',
  ]);
} finally {
  rmSync(work, { recursive: true, force: true });
}
