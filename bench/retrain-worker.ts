// A retraining worker process for bench:retrain: takes stage tasks from bull, one at a time, until SIGTERM; then
// prints what it did (tasks, stalls, failures, CPU, peak RSS) as one JSON line on stdout.
// Usage (started by bench/retrain-pipeline.ts): node --import tsx bench/retrain-worker.ts <redis-url> <prefix>
import { openQueues, processTasks } from '../src/retrain/bull-executor.ts';
import { leaderStages } from '../src/retrain/run.ts';

export interface WorkerReport {
  tasks: number;
  taskSeconds: number;
  stalled: number;
  failed: string[];
  cpuSeconds: number;
  maxRssMb: number;
}

const [redisUrl, prefix] = process.argv.slice(2);
if (!redisUrl || !prefix) {
  process.stderr.write('usage: retrain-worker.ts <redis-url> <prefix>\n');
  process.exit(2);
}

const queues = openQueues({ redisUrl, prefix });
const report: WorkerReport = { tasks: 0, taskSeconds: 0, stalled: 0, failed: [], cpuSeconds: 0, maxRssMb: 0 };
const startedAt = new Map<string, number>();
queues.tasks.on('active', (job) => startedAt.set(String(job.id), performance.now()));
queues.tasks.on('completed', (job) => {
  report.tasks++;
  report.taskSeconds += (performance.now() - (startedAt.get(String(job.id)) ?? performance.now())) / 1000;
});
// A stall means a lock expired (a blocked event loop or a dead worker) and the task may run twice: the figures
// of such a run are not clean, so the coordinator reports it.
queues.tasks.on('stalled', () => report.stalled++);
queues.tasks.on('failed', (job, err) => report.failed.push(`${job.id}: ${err.message}`));
queues.tasks.on('error', (err) => process.stderr.write(`retrain-worker ${process.pid}: queue error: ${err.message}\n`));
processTasks(queues, leaderStages(), undefined, 1);
await queues.tasks.isReady();
// CPU from here on: loading the code is not part of the work measured.
const cpuAtReady = process.cpuUsage();
process.stdout.write('ready\n');

process.once('SIGTERM', () => {
  void queues.close().then(() => {
    const cpu = process.cpuUsage(cpuAtReady);
    report.cpuSeconds = (cpu.user + cpu.system) / 1e6;
    report.maxRssMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
  });
});
