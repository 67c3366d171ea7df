// Start-up of `leader-cds serve` on the bundled demo model: time from spawn to the "ready" log line, and the
// process's resident memory once ready (VmRSS), median of N runs. `npm run bench:start -- --runs 5`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runs = benchArgs('bench:start').intOption('--runs', 5);

async function once(): Promise<{ ms: number; rssMb: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'leader-cds-start-'));
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'bin/leader-cds.js'), 'serve'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LEADER_CDS_FEEDBACK_DB: path.join(dir, 'fb.sqlite'), LEADER_CDS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const ms = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (/"msg":"ready"/.test(out)) resolve(performance.now() - started);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code} before ready: ${out.slice(-500)}`)));
    });
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { ms, rssMb: rssKb / 1024 };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Array<{ ms: number; rssMb: number }> = [];
for (let i = 0; i < runs; i++) results.push(await once());
console.log(`serve start on models/demo, ${runs} runs: time to ready median ${median(results.map((r) => r.ms)).toFixed(0)} ms (${results.map((r) => r.ms.toFixed(0)).join(', ')}); RSS when ready median ${median(results.map((r) => r.rssMb)).toFixed(1)} MB (${results.map((r) => r.rssMb.toFixed(1)).join(', ')})`);
