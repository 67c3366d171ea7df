// HTTP load on loopback: order-select with full prefetch against the real service (`leader-cds serve` in its own
// process: real handlers, the ONNX student, the configured mapping, info logs on), driven by autocannon from this
// process at concurrency 1, 16 and 64, with the model-only time beside it.
// `npm run bench:http` (model: $LEADER_CDS_MODEL_DIR or models/demo; seconds per level: $BENCH_SECONDS, default 8).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { Bundle, Encounter, FhirResource, MedicationRequest } from 'fhir/r4';
import { recordForEncounter } from '../src/dataset/records.ts';
import { historyFromResources } from '../src/fhir/bundle-reader.ts';
import { loadMapping } from '../src/mapping/load.ts';
import { StudentRuntime } from '../src/model/runtime/session.ts';
import { loadConfig, projectRoot } from '../src/service/config.ts';
import { resolveModelDir } from '../src/service/wiring.ts';
import { generatePatients } from '../src/synth/generator.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const work = mkdtempSync(path.join(tmpdir(), 'bench-http-'));
const serviceEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LEADER_CDS_AUTH_MODE: 'disabled', LEADER_CDS_FEEDBACK_DB: path.join(work, 'feedback.sqlite') };
const config = loadConfig({ env: serviceEnv });
const modelDir = (await resolveModelDir(config)).dir;
if (!existsSync(path.join(modelDir, 'manifest.json'))) {
  console.error(`no model at ${modelDir}: train one (leader-cds train) or set LEADER_CDS_MODEL_DIR`);
  process.exit(2);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface Candidate {
  body: Record<string, unknown>;
  resources: FhirResource[];
  patientId: string;
  encounterId: string;
}

/** Synthetic patients with history; the last encounter is current and one of its orders is the selected draft. */
function* candidates(): Generator<Candidate> {
  for (const { patient, resources } of generatePatients({ seed: 7, patients: 400 })) {
    const encounters = resources.filter((r): r is Encounter => r.resourceType === 'Encounter');
    if (encounters.length < 4) continue;
    const current = encounters.at(-1)!;
    const ref = `Encounter/${current.id}`;
    const currentOrders = resources.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest' && r.encounter?.reference === ref);
    if (currentOrders.length === 0) continue;
    const history = resources.filter((r) => !currentOrders.includes(r as MedicationRequest));
    const draft: MedicationRequest = { ...currentOrders[0]!, id: 'draft-1', status: 'draft' };
    const search = (type: string): Bundle => ({ resourceType: 'Bundle', type: 'searchset', entry: history.filter((r) => r.resourceType === type).map((resource) => ({ resource })) });
    const medications: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: history.filter((r) => r.resourceType === 'MedicationRequest' || r.resourceType === 'Medication').map((resource) => ({ resource })),
    };
    const body = {
      hook: 'order-select',
      hookInstance: randomUUID(),
      context: {
        userId: 'Practitioner/bench',
        patientId: patient.id,
        encounterId: current.id,
        selections: ['MedicationRequest/draft-1'],
        draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: draft }] },
      },
      prefetch: {
        patient,
        encounter: current,
        encounters: search('Encounter'),
        conditions: search('Condition'),
        procedures: search('Procedure'),
        medications,
      },
    };
    yield { body, resources: history, patientId: patient.id!, encounterId: current.id! };
  }
}

async function modelOnly(resources: FhirResource[], patientId: string, encounterId: string): Promise<{ p50: number; p99: number }> {
  const mapping = await loadMapping(config.mapping.path);
  const runtime = await StudentRuntime.load(modelDir, { provider: 'cpu', threads: 1 });
  const { history } = historyFromResources(resources, mapping, patientId);
  const index = history.encounters.findIndex((e) => e.id === encounterId);
  const record = recordForEncounter(history, index >= 0 ? index : history.encounters.length - 1, mapping);
  for (let i = 0; i < 200; i++) await runtime.predict([record]);
  const times: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    await runtime.predict([record]);
    times.push(performance.now() - t0);
  }
  return { p50: median(times), p99: pct(times, 99) };
}

/** CPU time (ms) a process has used so far, from /proc (Linux); undefined elsewhere. */
function processCpuMs(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th, in clock ticks (100/s).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
  } catch {
    return undefined;
  }
}

// The service in its own process, so that autocannon here does not share its event loop.
const child = spawn(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'serve'], { env: serviceEnv, stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise<string>((resolve, reject) => {
  let port = 0;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    let entry: { msg?: string; port?: number; err?: { message?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (entry.msg === 'listening' && entry.port) port = entry.port;
    if (entry.msg === 'ready') resolve(`http://127.0.0.1:${port}`);
    if (entry.msg?.startsWith('hook services failed')) reject(new Error(`service not ready: ${entry.err?.message ?? line}`));
  });
  child.once('exit', (code) => reject(new Error(`service exited with ${code}`)));
});
const stop = async (): Promise<void> => {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(work, { recursive: true, force: true });
};
const url = `${base}/cds-services/leader-order-select`;

// A patient the model has advice for, so that the measured call builds and returns cards.
let chosen: Candidate | undefined;
let probeBody: { cards?: Array<{ summary: string }> } = {};
for (const candidate of candidates()) {
  const probe = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(candidate.body) });
  const answer = (await probe.json()) as typeof probeBody;
  if (probe.status !== 200) {
    console.error(`probe call answered ${probe.status}: ${JSON.stringify(answer).slice(0, 400)}`);
    await stop();
    process.exit(2);
  }
  chosen ??= candidate;
  if ((answer.cards?.length ?? 0) > 0) {
    chosen = candidate;
    probeBody = answer;
    break;
  }
}
if (!chosen) throw new Error('no synthetic patient with enough history');
const { body, resources, patientId, encounterId } = chosen;
const payload = JSON.stringify(body);
const model = await modelOnly(resources, patientId, encounterId);
console.log(`model ${modelDir}, mapping ${path.basename(config.mapping.path)}, auth disabled, loopback, ${seconds} s per level`);
console.log(`request: order-select, ${payload.length} bytes, full prefetch (${resources.length} resources), ${probeBody.cards?.length ?? 0} cards in the answer`);
console.log(`model only (runtime.predict, batch 1, 2000 calls): p50 ${model.p50.toFixed(3)} ms, p99 ${model.p99.toFixed(3)} ms`);
console.log('');
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('');
console.log('concurrency   req/s     p50 ms   p99 ms   non-2xx  errors   server CPU ms/req   model-only p50 ms');
// A fresh hookInstance per call, as a real EHR sends, without re-serialising the body.
const marker = String(body.hookInstance);
for (const connections of [1, 16, 64]) {
  const cpuBefore = processCpuMs(child.pid!);
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    requests: [{ setupRequest: (req) => ({ ...req, body: payload.replace(marker, randomUUID()) }) }],
  });
  const cpuAfter = processCpuMs(child.pid!);
  // Server CPU per request (quick 503s included): the figure a busy shared machine distorts least.
  const cpuPerRequest = cpuBefore !== undefined && cpuAfter !== undefined && result.requests.total > 0 ? ((cpuAfter - cpuBefore) / result.requests.total).toFixed(2) : 'n/a';
  console.log(
    `${String(connections).padStart(11)}  ${result.requests.average.toFixed(0).padStart(6)}  ${result.latency.p50.toFixed(2).padStart(8)}  ${result.latency.p99
      .toFixed(2)
      .padStart(7)}  ${String(result.non2xx).padStart(8)}  ${String(result.errors + result.timeouts).padStart(6)}  ${cpuPerRequest.padStart(18)}  ${model.p50
      .toFixed(3)
      .padStart(18)}`,
  );
}
// The service's own view: model time per call as its metrics record it (includes waiting for the session).
const metricsText = await (await fetch(`${base}/metrics`)).text();
const metric = (name: string): number => metricsText.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
const count = metric('leader_cds_model_inference_seconds_count');
if (count > 0) console.log(`\nmodel inference inside the service (metrics): ${count} runs, mean ${((metric('leader_cds_model_inference_seconds_sum') / count) * 1000).toFixed(3)} ms`);
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await stop();
