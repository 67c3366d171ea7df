// Bulk reader throughput: `npm run bench:bulk-reader [-- --patients N] [--gzip]`.
// Generates (once, cached in the temp folder) a synthetic cohort of >= 1,000,000 resources with the synth
// generator (src/synth/), then reads it 3 times, each in a fresh process, through readBulk and history
// assembly with mappings/synthetic.json. Prints the median resources/s and the peak RSS and heap.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.ts';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const { option, flag } = benchArgs('bench:bulk-reader');

interface Trial {
  lines: number;
  patients: number;
  encounters: number;
  issues: number;
  readSeconds: number;
  assembleSeconds: number;
  cpuSeconds: number;
  readCpuSeconds: number;
  maxRssMb: number;
  peakHeapMb: number;
}

async function trial(dir: string): Promise<void> {
  const { loadMapping } = await import('../src/mapping/load.ts');
  const { readBulk } = await import('../src/fhir/bulk-reader.ts');
  const mapping = await loadMapping(join(root, 'mappings/synthetic.json'));
  let peakHeap = 0;
  const sample = () => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const read = await readBulk(dir, { mapping, onProgress: sample, progressEvery: 50_000 });
  sample();
  const t1 = performance.now();
  const readCpu = process.cpuUsage(cpu0);
  let encounters = 0;
  let patients = 0;
  for (const history of read.histories()) {
    patients++;
    encounters += history.encounters.length;
    if (patients % 5000 === 0) sample();
  }
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  sample();
  const result: Trial = {
    lines: read.stats.lines,
    patients,
    encounters,
    issues: read.issues.count(),
    readSeconds: (t1 - t0) / 1000,
    assembleSeconds: (t2 - t1) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    readCpuSeconds: (readCpu.user + readCpu.system) / 1e6,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    peakHeapMb: peakHeap / 2 ** 20,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function ensureCohort(patients: number, gzip: boolean): Promise<string> {
  const dir = join(tmpdir(), `leader-cds-bench-bulk-s1-p${patients}${gzip ? '-gz' : ''}`);
  const marker = join(dir, 'generation.json');
  if (existsSync(marker)) {
    const summary = JSON.parse(readFileSync(marker, 'utf8')) as { patients: number };
    if (summary.patients === patients) return dir;
  }
  rmSync(dir, { recursive: true, force: true });
  const { writeCohort } = await import('../src/synth/generator.ts');
  process.stderr.write(`generating ${patients} synthetic patients into ${dir} (cached for later runs)...\n`);
  const t0 = performance.now();
  await writeCohort({ seed: 1, patients, out: dir, gzip });
  process.stderr.write(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return dir;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (option('--trial')) {
  await trial(option('--trial')!);
} else {
  // ~26 resources per synthetic patient: 40,000 patients give a little over 1,000,000 resources.
  const patients = Number(option('--patients') ?? 40_000);
  const gzip = flag('--gzip');
  const dir = await ensureCohort(patients, gzip);
  const trials: Trial[] = [];
  for (let run = 0; run < 3; run++) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--trial', dir], { encoding: 'utf8', cwd: root, maxBuffer: 1 << 20 });
    if (child.status !== 0) {
      process.stderr.write(child.stderr);
      process.exit(1);
    }
    const t = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Trial;
    trials.push(t);
    process.stderr.write(`run ${run + 1}: ${JSON.stringify(t)}\n`);
  }
  const t = trials[0]!;
  const total = trials.map((x) => x.readSeconds + x.assembleSeconds);
  console.log(`bulk reader on ${t.lines.toLocaleString('en')} resources (${t.patients} patients, ${t.encounters} encounters, ${gzip ? 'ndjson.gz' : 'ndjson'}), median of 3:`);
  console.log(`  read + assemble: ${Math.round(median(trials.map((x) => x.lines / (x.readSeconds + x.assembleSeconds)))).toLocaleString('en')} resources/s (wall ${median(total).toFixed(2)} s)`);
  console.log(`  read only:       ${Math.round(median(trials.map((x) => x.lines / x.readSeconds))).toLocaleString('en')} resources/s`);
  console.log(`  per CPU second:  ${Math.round(median(trials.map((x) => x.lines / x.cpuSeconds))).toLocaleString('en')} resources/s read + assemble (CPU ${median(trials.map((x) => x.cpuSeconds)).toFixed(2)} s), ${Math.round(median(trials.map((x) => x.lines / x.readCpuSeconds))).toLocaleString('en')} resources/s read only (CPU ${median(trials.map((x) => x.readCpuSeconds)).toFixed(2)} s)`);
  console.log(`  (wall figures depend on machine load; CPU figures include V8's GC helper threads)`);
  console.log(`  peak RSS ${median(trials.map((x) => x.maxRssMb)).toFixed(0)} MB, peak heap ${median(trials.map((x) => x.peakHeapMb)).toFixed(0)} MB, issues ${t.issues}`);
}
