// Retraining data pipeline throughput: `npm run bench:retrain [-- options]`.
//
// Generates (once, cached in the temp folder by seed and size) a synthetic cohort of >= 1,000,000 resources, serves
// it through the loopback Bulk Data test server with SMART backend-services auth, and runs the data part of the
// retraining plan (export -> partition per file -> build per partition -> merge; the first four steps of
// retrainPlan, not distil/evaluate) with (a) the inline executor, (b) bull with one worker process, (c) bull with
// two worker processes. Each run uses a fresh artifact store, and runs in its own coordinator process so that its
// peak RSS is its own. Prints stage seconds, wall time, resources/s, peak RSS and the 1 -> 2 worker speed-up.
//
// Options:
//   --patients N         cohort size (default 40,000 = 1,111,923 resources at seed 1)
//   --resources N        alternatively: at least about N resources (27.8 resources a patient at the default settings)
//   --seed N             cohort seed (default 1; the cache is shared with bench:bulk-reader)
//   --runs N             runs per mode, median reported (default 1)
//   --modes LIST         any of inline,bull1,bull2 (default all three)
//   --partitions N       patient partitions (default 4)
//   --max-lines-per-file N   the server's file split (default 100,000: 15 files for 1M resources)
//   --reuse-export       export once up front and start every mode from that folder (isolates the build stages)
//   --keep               keep the artifact stores (printed) instead of deleting them
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.ts';
import type { WorkerReport } from './retrain-worker.ts';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const MAPPING = join(root, 'mappings/synthetic.json');
const WORKER = join(root, 'bench/retrain-worker.ts');
const { option, flag, intOption } = benchArgs('bench:retrain');

type Mode = 'inline' | 'bull1' | 'bull2';
const MODES: Record<Mode, { label: string; workers: number }> = {
  inline: { label: 'inline', workers: 0 },
  bull1: { label: 'bull, 1 worker', workers: 1 },
  bull2: { label: 'bull, 2 workers', workers: 2 },
};

/** What the coordinator process is told to do (passed as JSON on its command line). */
interface CoordinatorSpec {
  mode: Mode | 'export-only';
  workers: number;
  storeRoot: string;
  redisUrl?: string;
  prefix: string;
  partitions: number;
  source: { kind: 'bulk'; baseUrl: string; tokenUrl: string; keyFile: string } | { kind: 'folder'; path: string };
}

interface RunResult {
  mode: CoordinatorSpec['mode'];
  /** Seconds per plan step: export (or import), partition, build, dataset (the merge). */
  stages: Record<string, number>;
  wallSeconds: number;
  exportedLines: number;
  exportFolder?: string;
  patients: number;
  encounters: number;
  fingerprint: string;
  coordinatorRssMb: number;
  coordinatorCpuSeconds: number;
  workers: WorkerReport[];
  /** CPU the bench process (the Bulk Data server) spent during the run. */
  serverCpuSeconds?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Coordinator process: one run of the data plan on one executor.

function startWorker(redisUrl: string, prefix: string): Promise<{ stop: () => Promise<WorkerReport> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, redisUrl, prefix], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  return new Promise((resolveStart, rejectStart) => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => rejectStart(new Error('a worker did not become ready within 60 s')), 60_000);
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolveStart({
          stop: async () => {
            child.kill('SIGTERM');
            const code = await exited;
            const last = out.trim().split('\n').at(-1) ?? '';
            if (code !== 0 || !last.startsWith('{')) throw new Error(`worker ${child.pid} exited with ${code} without a report`);
            return JSON.parse(last) as WorkerReport;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rejectStart(new Error(`a worker exited with ${code} before it was ready`));
    });
  });
}

async function coordinate(spec: CoordinatorSpec): Promise<void> {
  const { ArtifactStore } = await import('../src/retrain/artifacts.ts');
  const { InlineExecutor, runPlan } = await import('../src/retrain/engine.ts');
  const { leaderStages, retrainPlan } = await import('../src/retrain/run.ts');
  const { parseRetrainConfig } = await import('../src/retrain/config.ts');
  const config = parseRetrainConfig({
    source:
      spec.source.kind === 'bulk'
        ? { kind: 'bulk', baseUrl: spec.source.baseUrl, auth: { tokenUrl: spec.source.tokenUrl, clientId: 'leader-cds', keyFile: spec.source.keyFile } }
        : spec.source,
    mapping: MAPPING,
    workDir: spec.storeRoot,
    partitions: spec.partitions,
    snapshot: spec.prefix,
  });
  // The data part of the production plan: source, partition, build, merge (distil and evaluate are left out).
  const plan = (await retrainPlan(config, undefined)).slice(0, spec.mode === 'export-only' ? 1 : 4);
  const store = new ArtifactStore(spec.storeRoot);
  const registry = leaderStages();
  const stages: Record<string, number> = {};
  const onEvent = (e: { type: string; stage?: string; seconds?: number; tasks?: number }) => {
    if (e.type === 'stage-start') process.stderr.write(`  [${spec.mode}] ${e.stage}: ${e.tasks} task(s)\n`);
    if (e.type === 'stage-end') {
      stages[e.stage!] = e.seconds!;
      process.stderr.write(`  [${spec.mode}] ${e.stage}: ${e.seconds!.toFixed(1)} s\n`);
    }
  };
  let workers: Array<{ stop: () => Promise<WorkerReport> }> = [];
  let queues: Awaited<ReturnType<typeof import('../src/retrain/bull-executor.ts')['openQueues']>> | undefined;
  let executor;
  if (spec.workers > 0) {
    const bull = await import('../src/retrain/bull-executor.ts');
    // Workers start (and load their code) before the clock starts.
    workers = await Promise.all(Array.from({ length: spec.workers }, () => startWorker(spec.redisUrl!, spec.prefix)));
    queues = bull.openQueues({ redisUrl: spec.redisUrl!, prefix: spec.prefix });
    executor = new bull.BullExecutor(queues);
  } else executor = new InlineExecutor(registry, store);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let results;
  try {
    results = await runPlan(plan, registry, store, executor, onEvent);
  } finally {
    await queues?.close();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const reports = await Promise.all(workers.map((w) => w.stop()));
  const source = results.get(plan[0]!.id)!.outputs[0] as { lines: number; folder?: string };
  const sourceDir = store.dirFor(results.get(plan[0]!.id)!.refs[0]!.stage, results.get(plan[0]!.id)!.refs[0]!.key);
  const merged = results.get('dataset')?.outputs[0] as { summary: { patients: number; encounters: number; fingerprint: string } } | undefined;
  const result: RunResult = {
    mode: spec.mode,
    stages,
    wallSeconds,
    exportedLines: source.lines,
    exportFolder: source.folder ?? sourceDir,
    patients: merged?.summary.patients ?? 0,
    encounters: merged?.summary.encounters ?? 0,
    fingerprint: merged?.summary.fingerprint ?? '',
    coordinatorRssMb: process.resourceUsage().maxRSS / 1024,
    coordinatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    workers: reports,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Bench process: cohort, Bulk Data server, Redis, one coordinator process per run, the table.

async function ensureCohort(seed: number, patients: number): Promise<{ dir: string; resources: number }> {
  // Same folder name as bench:bulk-reader, so the two benches share one generated cohort.
  const dir = join(tmpdir(), `leader-cds-bench-bulk-s${seed}-p${patients}`);
  const marker = join(dir, 'generation.json');
  const count = () => Object.values((JSON.parse(readFileSync(marker, 'utf8')) as { counts: Record<string, number> }).counts).reduce((a, b) => a + b, 0);
  if (existsSync(marker)) {
    const summary = JSON.parse(readFileSync(marker, 'utf8')) as { patients: number; seed: number; gzip: boolean; maxEncounters: number };
    if (summary.patients === patients && summary.seed === seed && !summary.gzip && summary.maxEncounters === 20) return { dir, resources: count() };
  }
  rmSync(dir, { recursive: true, force: true });
  const { writeCohort } = await import('../src/synth/generator.ts');
  process.stderr.write(`generating ${patients} synthetic patients (seed ${seed}) into ${dir} (cached for later runs)...\n`);
  const t0 = performance.now();
  await writeCohort({ seed, patients, out: dir });
  process.stderr.write(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return { dir, resources: count() };
}

function runCoordinator(spec: CoordinatorSpec): Promise<RunResult> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--coordinate', JSON.stringify(spec)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolveRun(JSON.parse(last) as RunResult);
      else rejectRun(new Error(`the ${spec.mode} coordinator exited with ${code}${out ? `: ${out.slice(-500)}` : ''}`));
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtInt = (n: number) => Math.round(n).toLocaleString('en');
const pad = (s: string, n: number) => s.padStart(n);

async function bench(): Promise<void> {
  const seed = intOption('--seed', 1, 0);
  const resourcesWanted = option('--resources') !== undefined ? intOption('--resources', 1_000_000) : undefined;
  // Measured at seed 1: 40,000 patients give 1,111,923 resources (27.8 a patient).
  const patients = resourcesWanted !== undefined ? Math.max(1, Math.ceil(resourcesWanted / 27)) : intOption('--patients', 40_000);
  const runs = intOption('--runs', 1);
  const partitions = intOption('--partitions', 4);
  const maxLinesPerFile = intOption('--max-lines-per-file', 100_000);
  const reuseExport = flag('--reuse-export');
  const keep = flag('--keep');
  const modes = (option('--modes') ?? 'inline,bull1,bull2').split(',').map((m) => m.trim()) as Mode[];
  for (const m of modes) {
    if (!(m in MODES)) {
      process.stderr.write(`bench:retrain: unknown mode "${m}" in --modes (inline, bull1, bull2)\n`);
      process.exit(2);
    }
  }
  const load0 = loadavg();
  const started = new Date();
  const cohort = await ensureCohort(seed, patients);
  if (resourcesWanted !== undefined && cohort.resources < resourcesWanted) process.stderr.write(`note: ${patients} patients gave ${cohort.resources} resources, fewer than the ${resourcesWanted} asked for\n`);

  const { exportJWK, generateKeyPair } = await import('jose');
  const { startBulkTestServer } = await import('../src/bulk/test-server.ts');
  const scratch = await mkdtemp(join(tmpdir(), 'bench-retrain-'));
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const keyFile = join(scratch, 'client-key.jwk.json');
  await writeFile(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'bench', alg: 'ES384' }), { mode: 0o600 });
  const server = await startBulkTestServer({
    dataDir: cohort.dir,
    clients: [{ clientId: 'leader-cds', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES384', use: 'sig' }] } }],
    maxLinesPerFile,
  });
  let redis: Awaited<ReturnType<typeof import('../test/helpers/redis.ts')['startRedis']>> | undefined;
  if (modes.some((m) => MODES[m].workers > 0)) {
    const { redisAvailable, startRedis, REDIS_SKIP } = await import('../test/helpers/redis.ts');
    if (!redisAvailable()) {
      process.stderr.write(`bench:retrain: the bull modes need ${REDIS_SKIP}; or pass --modes inline\n`);
      process.exit(2);
    }
    redis = await startRedis();
  }
  const bulkSource = { kind: 'bulk' as const, baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, keyFile };
  const results = new Map<Mode, RunResult[]>(modes.map((m) => [m, []]));
  let sharedExport: RunResult | undefined;
  try {
    if (reuseExport) {
      process.stderr.write('exporting once (inline) for every mode to start from...\n');
      const cpu0 = process.cpuUsage();
      sharedExport = await runCoordinator({ mode: 'export-only', workers: 0, storeRoot: join(scratch, 'export'), prefix: 'export', partitions, source: bulkSource });
      const cpu = process.cpuUsage(cpu0);
      sharedExport.serverCpuSeconds = (cpu.user + cpu.system) / 1e6;
    }
    for (let run = 1; run <= runs; run++) {
      for (const mode of modes) {
        const prefix = `bench-${mode}-${run}-${Date.now()}`;
        const storeRoot = join(scratch, prefix);
        process.stderr.write(`run ${run}/${runs}, ${MODES[mode].label} (store ${storeRoot}, load ${loadavg()[0]!.toFixed(1)})\n`);
        const cpu0 = process.cpuUsage();
        const result = await runCoordinator({
          mode,
          workers: MODES[mode].workers,
          storeRoot,
          ...(redis ? { redisUrl: redis.url } : {}),
          prefix,
          partitions,
          source: sharedExport ? { kind: 'folder', path: sharedExport.exportFolder! } : bulkSource,
        });
        const cpu = process.cpuUsage(cpu0);
        result.serverCpuSeconds = (cpu.user + cpu.system) / 1e6;
        results.get(mode)!.push(result);
        if (!keep) await rm(storeRoot, { recursive: true, force: true });
      }
    }
  } finally {
    await server.close();
    await redis?.stop();
    if (!keep) await rm(scratch, { recursive: true, force: true });
  }

  // Every mode must build the same dataset: same records in the same order.
  const all = [...results.values()].flat();
  const fingerprints = new Set(all.map((r) => r.fingerprint));
  const lines = sharedExport?.exportedLines ?? all[0]!.exportedLines;
  const problems: string[] = [];
  if (fingerprints.size !== 1) problems.push(`the modes built different datasets (fingerprints ${[...fingerprints].join(', ')})`);
  if (lines !== cohort.resources) problems.push(`the export held ${lines} resources, the cohort ${cohort.resources}`);
  for (const r of all) {
    if (!sharedExport && r.exportedLines !== cohort.resources) problems.push(`${r.mode}: exported ${r.exportedLines} of ${cohort.resources} resources`);
    for (const w of r.workers) {
      if (w.stalled) problems.push(`${r.mode}: a worker saw ${w.stalled} stalled task(s) (lock expired; a task may have run twice)`);
      if (w.failed.length) problems.push(`${r.mode}: failed task attempts: ${w.failed.join('; ')}`);
    }
  }

  const cpuInfo = cpus();
  const load1 = loadavg();
  const out: string[] = [];
  out.push(`bench:retrain: retraining data pipeline (export -> partition -> build -> merge) on ${fmtInt(cohort.resources)} resources (${fmtInt(patients)} synthetic patients, seed ${seed})`);
  out.push(`machine: ${cpuInfo.length} cores (${cpuInfo[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM, node ${process.version}, ${process.platform}; ${started.toISOString()}`);
  out.push(`load average (1/5/15 min): ${load0.map((x) => x.toFixed(1)).join(' / ')} at start, ${load1.map((x) => x.toFixed(1)).join(' / ')} at end${load0[0]! > cpuInfo.length ? '  (busy machine: wall times are inflated)' : ''}`);
  out.push(
    `settings: ${partitions} partitions, the server splits files at ${fmtInt(maxLinesPerFile)} lines; ${runs === 1 ? '1 run per mode (no median: pass --runs N for a median)' : `median of ${runs} runs per mode`}; ` +
      (sharedExport
        ? `one export up front, every mode starts from its folder (build stages isolated)`
        : `each mode exports afresh from the Bulk Data server (SMART backend-services auth) into its own fresh artifact store`),
  );
  out.push('bull workers are separate processes (one task at a time each), started before the clock; the server runs in the bench process');
  out.push('');
  if (sharedExport) {
    out.push(`export (once): ${sharedExport.stages.export!.toFixed(1)} s, ${fmtInt(lines / sharedExport.stages.export!)} resources/s, coordinator peak RSS ${sharedExport.coordinatorRssMb.toFixed(0)} MB`);
    out.push('');
  }
  const sourceStep = sharedExport ? 'import' : 'export';
  const head = ['mode', `${sourceStep} s`, 'partition s', 'build s', 'merge s', 'wall s', 'export res/s', 'build res/s', 'total res/s', 'coord RSS MB', 'worker RSS MB'];
  const widths = [16, 10, 12, 9, 9, 9, 13, 12, 12, 13, 14];
  out.push(head.map((h, i) => (i === 0 ? h.padEnd(widths[i]!) : pad(h, widths[i]!))).join(''));
  const wall = new Map<Mode, number>();
  const buildWall = new Map<Mode, number>();
  for (const mode of modes) {
    const rs = results.get(mode)!;
    const st = (name: string) => median(rs.map((r) => r.stages[name] ?? 0));
    const buildSeconds = median(rs.map((r) => (r.stages.partition ?? 0) + (r.stages.build ?? 0) + (r.stages.dataset ?? 0)));
    const w = median(rs.map((r) => r.wallSeconds));
    wall.set(mode, w);
    buildWall.set(mode, buildSeconds);
    const exportRate = sharedExport ? '-' : fmtInt(lines / st('export'));
    const workerRss = rs.flatMap((r) => r.workers.map((x) => x.maxRssMb));
    const cells = [
      MODES[mode].label,
      st(sourceStep).toFixed(1),
      st('partition').toFixed(1),
      st('build').toFixed(1),
      st('dataset').toFixed(1),
      w.toFixed(1),
      exportRate,
      fmtInt(lines / buildSeconds),
      fmtInt(lines / w),
      median(rs.map((r) => r.coordinatorRssMb)).toFixed(0),
      workerRss.length ? Math.max(...workerRss).toFixed(0) : '-',
    ];
    out.push(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : pad(c, widths[i]!))).join(''));
  }
  out.push('');
  out.push('build res/s = resources / (partition + build + merge seconds); total res/s = resources / wall (wall includes the source step).');
  for (const mode of modes) {
    const rs = results.get(mode)!;
    const last = rs.at(-1)!;
    const detail = last.workers.length
      ? `tasks per worker ${last.workers.map((w) => w.tasks).join(' + ')}, worker CPU ${last.workers.map((w) => w.cpuSeconds.toFixed(0)).join(' + ')} s, coordinator CPU ${last.coordinatorCpuSeconds.toFixed(0)} s`
      : `coordinator CPU ${last.coordinatorCpuSeconds.toFixed(0)} s`;
    out.push(`  ${MODES[mode].label}: ${detail}; server (bench process) CPU ${last.serverCpuSeconds?.toFixed(0) ?? '?'} s; dataset ${fmtInt(last.patients)} patients, ${fmtInt(last.encounters)} encounters`);
    // CPU seconds do not grow with the machine's load the way wall seconds do (Redis's own CPU is not counted).
    const cpuSeconds = median(rs.map((r) => r.coordinatorCpuSeconds + (r.serverCpuSeconds ?? 0) + r.workers.reduce((a, w) => a + w.cpuSeconds, 0)));
    out.push(`    CPU (coordinator + workers + server${runs > 1 ? ', median' : ''}): ${cpuSeconds.toFixed(0)} s = ${fmtInt(lines / cpuSeconds)} resources per CPU second`);
  }
  if (wall.has('bull1') && wall.has('bull2')) {
    out.push('');
    out.push(
      `1 -> 2 workers: wall ${wall.get('bull1')!.toFixed(1)} s -> ${wall.get('bull2')!.toFixed(1)} s, speed-up x${(wall.get('bull1')! / wall.get('bull2')!).toFixed(2)}; ` +
        `partition + build + merge ${buildWall.get('bull1')!.toFixed(1)} s -> ${buildWall.get('bull2')!.toFixed(1)} s, speed-up x${(buildWall.get('bull1')! / buildWall.get('bull2')!).toFixed(2)}`,
    );
    out.push(`  (on ${cpuInfo.length} cores, shared with the server, Redis and the coordinator${load0[0]! > cpuInfo.length ? ' and with other work on a loaded machine' : ''})`);
  }
  out.push(`dataset fingerprint ${[...fingerprints].join(', ')} ${fingerprints.size === 1 ? '(the same in every mode)' : ''}`);
  if (keep) out.push(`artifact stores kept under ${scratch}`);
  for (const p of problems) out.push(`PROBLEM: ${p}`);
  console.log(out.join('\n'));
  if (problems.length) process.exitCode = 1;
}

if (option('--coordinate')) await coordinate(JSON.parse(option('--coordinate')!) as CoordinatorSpec);
else await bench();
