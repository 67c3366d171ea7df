// Training throughput of LEADER(S): samples/s at d=64, batch 64 on the chosen tfjs backend (default wasm),
// median over epochs, on the synthetic cohort (built once into the OS temp folder by the project's own CLI).
//   npm run bench:train [-- --backend wasm --epochs 3 --records 2048 --dim 64 --batch-size 64 --recency position|none]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readDataset } from '../src/dataset/io.ts';
import type { Dataset } from '../src/dataset/types.ts';
import { defaultStudentConfig, RECENCY_MODES } from '../src/model/student/config.ts';
import { trainStudent } from '../src/model/student/train.ts';
import { initBackend, parseBackendChoice } from '../src/model/tf/backend.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The synthetic cohort as a dataset file: `leader-cds synth` + `leader-cds dataset build` with mappings/synthetic.json. */
export async function syntheticDataset(patients = 3000, seed = 7): Promise<{ file: string; dataset: Dataset }> {
  const dir = path.join(os.tmpdir(), 'leader-cds-bench');
  const cohort = path.join(dir, `cohort-${patients}-${seed}`);
  const file = path.join(dir, `synthetic-${patients}-${seed}.jsonl`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const cli = path.join(root, 'bin', 'leader-cds.js');
    const run = (args: string[]) => execFileSync(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    run(['synth', '--patients', String(patients), '--seed', String(seed), '--out', cohort, '--force']);
    run(['dataset', 'build', '--mapping', path.join(root, 'mappings', 'synthetic.json'), '--input', cohort, '--out', file]);
  }
  return { file, dataset: await readDataset(file) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'wasm' },
      epochs: { type: 'string', default: '3' },
      records: { type: 'string', default: '2048' },
      dim: { type: 'string', default: '64' },
      'batch-size': { type: 'string', default: '64' },
      recency: { type: 'string', default: defaultStudentConfig.recency },
    },
  });
  const backend = await initBackend(parseBackendChoice(values.backend!));
  const { file, dataset } = await syntheticDataset();
  const records = dataset.records.slice(0, Number(values.records));
  const epochs = Number(values.epochs);
  const speeds: number[] = [];
  const cpuSpeeds: number[] = [];
  // The machine may be shared: samples per CPU-second of this process is reported next to wall-clock samples/s.
  let cpuMark = process.cpuUsage();
  const recency = RECENCY_MODES.find((m) => m === values.recency);
  if (!recency) throw new Error(`--recency must be one of ${RECENCY_MODES.join(', ')}, got '${values.recency}'`);
  const config = { ...defaultStudentConfig, dim: Number(values.dim), recency };
  console.log(`bench:train  dataset ${file} (${records.length} records), backend ${backend.name}, d=${config.dim}, recency ${config.recency}, batch ${values['batch-size']}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
  await trainStudent(records, [], {
    config,
    alpha: 0,
    beta: 0.005,
    epochs,
    patience: epochs,
    batchSize: Number(values['batch-size']),
    learningRate: 5e-4,
    seed: 1,
    onProgress: (e) => {
      if (e.type !== 'epoch') return;
      const cpu = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      const perCpu = records.length / ((cpu.user + cpu.system) / 1e6);
      speeds.push(e.samplesPerSecond ?? 0);
      cpuSpeeds.push(perCpu);
      console.log(`  epoch ${e.epoch}: ${(e.samplesPerSecond ?? 0).toFixed(0)} samples/s wall, ${perCpu.toFixed(0)} samples per CPU-second, loss ${e.trainLoss.toFixed(4)}`);
    },
  });
  console.log(`training samples/s (median of ${speeds.length} epochs): ${median(speeds).toFixed(0)} wall, ${median(cpuSpeeds).toFixed(0)} per CPU-second`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
