// Synthetic cohort writing speed: `npm run bench:synth [-- patients]`. Prints the median of 3 runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCohort } from '../src/synth/generator.ts';

const patients = Number(process.argv[2] ?? 10_000);
const walls: number[] = [];
const cpus: number[] = [];
let counts: Record<string, number> = {};
for (let run = 0; run < 3; run++) {
  const out = mkdtempSync(join(tmpdir(), 'bench-synth-'));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  counts = (await writeCohort({ seed: 1, patients, out })).counts;
  walls.push(performance.now() - t0);
  const cpu = process.cpuUsage(cpu0);
  cpus.push((cpu.user + cpu.system) / 1000);
  rmSync(out, { recursive: true, force: true });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1]!;
console.log(`synth ${patients} patients (seed 1): median wall ${(median(walls) / 1000).toFixed(2)} s, median CPU ${(median(cpus) / 1000).toFixed(2)} s`);
console.log(`resources: ${JSON.stringify(counts)}`);
