// HTTP load on loopback: order-select with full prefetch against the real service (`leader-cds serve` in its own
// process(es): real handlers, the ONNX student, the configured mapping, info logs on), driven by autocannon from
// this process at concurrency 1, 16 and 64, with the model-only time beside it; for auth disabled and for JWT
// (ES384 tokens this bench signs with its own key, a fresh jti per call), with 1 and 2 worker processes.
// `npm run bench:http`. Environment: BENCH_SECONDS per level (default 5), BENCH_RUNS per level (default 3, medians
// printed), BENCH_LEVELS (default 1,16,64), BENCH_WORKERS (default 1,2), BENCH_AUTH (default disabled,jwt),
// BENCH_CACHE (default off,on). Every call here sends the same patient, so the score cache is OFF for the main
// tables (each call costs what a new patient costs); "on" adds the auth-disabled rows with the cache on, i.e. the
// repeated calls of one ordering session. BENCH_FLOOR (default on; off skips it): the same load on the HTTP floor
// (bench/http-floor-server.ts: express and the service's JSON body parser answering the real answer's bytes, no
// domain work), the most this machine gives the service's HTTP stack. BENCH_NODE_ARGS (extra node flags for the service, e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof"),
// LEADER_CDS_MODEL_DIR (default: the registry's current model).
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { Bundle, Encounter, FhirResource, MedicationRequest } from 'fhir/r4';
import { recordForEncounter } from '../src/dataset/records.ts';
import { historyFromResources } from '../src/fhir/bundle-reader.ts';
import { loadMapping } from '../src/mapping/load.ts';
import { StudentRuntime } from '../src/model/runtime/session.ts';
import { occlusionInputs, withoutInput } from '../src/service/cards/explain.ts';
import { loadConfig, projectRoot } from '../src/service/config.ts';
import { resolveModelDir } from '../src/service/wiring.ts';
import { generatePatients } from '../src/synth/generator.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const levels = (process.env.BENCH_LEVELS ?? '1,16,64').split(',').map(Number);
const workerCounts = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const authModes = (process.env.BENCH_AUTH ?? 'disabled,jwt').split(',') as Array<'disabled' | 'jwt'>;
for (const [name, values] of [['BENCH_LEVELS', levels], ['BENCH_WORKERS', workerCounts]] as const)
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`${name}: expected positive whole numbers separated by commas`);
if (authModes.some((m) => m !== 'disabled' && m !== 'jwt')) throw new Error('BENCH_AUTH: expected disabled and/or jwt');
const cacheModes = (process.env.BENCH_CACHE ?? 'off,on').split(',');
if (cacheModes.some((m) => m !== 'off' && m !== 'on')) throw new Error('BENCH_CACHE: expected off and/or on');
const floor = process.env.BENCH_FLOOR ?? 'on';
if (floor !== 'on' && floor !== 'off') throw new Error('BENCH_FLOOR: expected on or off');
if (!(seconds > 0) || !Number.isInteger(runs) || runs < 1) throw new Error('BENCH_SECONDS must be > 0 and BENCH_RUNS a whole number >= 1');
const work = mkdtempSync(path.join(tmpdir(), 'bench-http-'));
const baseEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LEADER_CDS_FEEDBACK_DB: path.join(work, 'feedback.sqlite') };
const config = loadConfig({ env: { ...baseEnv, LEADER_CDS_AUTH_MODE: 'disabled' } });
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

/** Model time of one call: the record alone (batch 1), and with its explanation (the occlusion batch) as a shown suggestion costs. */
async function modelOnly(
  resources: FhirResource[],
  patientId: string,
  encounterId: string,
): Promise<{ p50: number; p99: number; explainedP50: number; variants: number; unsharedExplainedP50: number }> {
  const mapping = await loadMapping(config.mapping.path);
  const runtime = await StudentRuntime.load(modelDir, { provider: 'cpu', threads: 1 });
  // The same calls without set sharing, alternating with the shared runs: what sharing saves on the explanation.
  const unshared = await StudentRuntime.load(modelDir, { provider: 'cpu', threads: 1, shareSets: false });
  const { history } = historyFromResources(resources, mapping, patientId);
  const index = history.encounters.findIndex((e) => e.id === encounterId);
  const record = recordForEncounter(history, index >= 0 ? index : history.encounters.length - 1, mapping);
  const variants = occlusionInputs(record, 64).map((input) => withoutInput(record, input));
  for (let i = 0; i < 200; i++) await runtime.predict([record]);
  for (let i = 0; i < 50; i++) await unshared.predict(variants);
  const times: number[] = [];
  const explained: number[] = [];
  const unsharedExplained: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    await runtime.predict([record]);
    const t1 = performance.now();
    times.push(t1 - t0);
    if (variants.length > 0) await runtime.predict(variants);
    explained.push(performance.now() - t0);
    if (i % 2 === 0 && variants.length > 0) {
      const u0 = performance.now();
      await unshared.predict([record]);
      await unshared.predict(variants);
      unsharedExplained.push(performance.now() - u0);
    }
  }
  await runtime.close();
  await unshared.close();
  return {
    p50: median(times),
    p99: pct(times, 99),
    explainedP50: median(explained),
    variants: variants.length,
    unsharedExplainedP50: unsharedExplained.length ? median(unsharedExplained) : Number.NaN,
  };
}

/** CPU time (ms) a process and its children (cluster workers) have used so far, from /proc (Linux); undefined elsewhere. */
function processTreeCpuMs(pid: number): number | undefined {
  const stat = (p: number): string[] | undefined => {
    try {
      // Fields after the parenthesised command name: ppid is the 2nd, utime and stime the 12th and 13th (clock ticks, 100/s).
      return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
    } catch {
      return undefined;
    }
  };
  const own = stat(pid);
  if (!own) return undefined;
  let ticks = Number(own[11]) + Number(own[12]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(Number(entry));
    if (fields && Number(fields[1]) === pid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks / 100) * 1000;
}

/** An ES384 key of this bench's own, its public half as the service's trusted issuer, and a signer of fresh tokens. */
const ISSUER = 'https://bench.leader-cds.invalid';
const BASE_URL = 'https://cds.bench.invalid';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const signingKey: KeyObject = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');
const jwtHeader = b64url(JSON.stringify({ alg: 'ES384', typ: 'JWT', kid: 'bench-1' }));
function token(audience: string): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = b64url(JSON.stringify({ iss: ISSUER, aud: audience, iat: now, exp: now + 300, jti: randomUUID() }));
  const signature = sign('sha384', Buffer.from(`${jwtHeader}.${claims}`), { key: signingKey, dsaEncoding: 'ieee-p1363' });
  return `${jwtHeader}.${claims}.${b64url(signature)}`;
}
const jwtConfigFile = path.join(work, 'jwt-config.json');
writeFileSync(
  jwtConfigFile,
  JSON.stringify({
    server: { baseUrl: BASE_URL },
    auth: { mode: 'jwt', issuers: [{ iss: ISSUER, jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench-1', alg: 'ES384', use: 'sig' }] } }] },
  }),
);

interface Running {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

/** A server in its own process(es), ready once it logs `ready` (or, with workers, `all workers ready`). */
async function startProcess(args: string[], env: NodeJS.ProcessEnv, readyMsg: string): Promise<Running> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const child = spawn(process.execPath, [...nodeArgs, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
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
      if (entry.port && (entry.msg === 'listening' || entry.msg === readyMsg)) port = entry.port;
      if (entry.msg === readyMsg) resolve(`http://127.0.0.1:${port}`);
      if (entry.msg?.startsWith('hook services failed')) reject(new Error(`service not ready: ${entry.err?.message ?? line}`));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    child,
    base,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The service in its own process(es), so that autocannon here does not share its event loop. */
function startServiceProcess(auth: 'disabled' | 'jwt', workers: number, cache: boolean): Promise<Running> {
  const env = {
    ...baseEnv,
    LEADER_CDS_AUTH_MODE: auth,
    LEADER_CDS_WORKERS: String(workers),
    ...(cache ? {} : { LEADER_CDS_SCORE_CACHE_SIZE: '0' }),
    ...(auth === 'jwt' ? { LEADER_CDS_CONFIG: jwtConfigFile } : {}),
    LEADER_CDS_FEEDBACK_DB: path.join(work, `feedback-${auth}-${workers}-${cache}.sqlite`),
  };
  return startProcess([path.join(projectRoot, 'bin/leader-cds.js'), 'serve'], env, workers > 1 ? 'all workers ready' : 'ready');
}

/** The HTTP floor: express and the JSON body parser answering `answer` to every POST, nothing else. */
function startFloorProcess(workers: number, answer: string): Promise<Running> {
  const answerFile = path.join(work, 'floor-answer.json');
  writeFileSync(answerFile, answer);
  const env = { ...process.env, FLOOR_ANSWER: answerFile, FLOOR_WORKERS: String(workers) };
  return startProcess(['--import', 'tsx', path.join(projectRoot, 'bench/http-floor-server.ts')], env, 'ready');
}

const PATH = '/cds-services/leader-order-select';
const headersFor = (auth: 'disabled' | 'jwt'): Record<string, string> => ({
  'content-type': 'application/json',
  ...(auth === 'jwt' ? { authorization: `Bearer ${token(`${BASE_URL}${PATH}`)}` } : {}),
});

// A patient the model has advice for, so that the measured call builds and explains a suggestion card.
const probeService = await startServiceProcess('disabled', 1, false);
let chosen: Candidate | undefined;
let probeBody: { cards?: Array<{ summary: string }> } = {};
let probeText = '';
try {
  for (const candidate of candidates()) {
    const probe = await fetch(`${probeService.base}${PATH}`, { method: 'POST', headers: headersFor('disabled'), body: JSON.stringify(candidate.body) });
    const text = await probe.text();
    const answer = JSON.parse(text) as typeof probeBody;
    if (probe.status !== 200) throw new Error(`probe call answered ${probe.status}: ${JSON.stringify(answer).slice(0, 400)}`);
    chosen ??= candidate;
    if ((answer.cards?.length ?? 0) > 0) {
      chosen = candidate;
      probeBody = answer;
      probeText = text;
      break;
    }
  }
} finally {
  await probeService.stop();
}
if (!chosen) throw new Error('no synthetic patient with enough history');
const { body, resources, patientId, encounterId } = chosen;
const payload = JSON.stringify(body);
const model = await modelOnly(resources, patientId, encounterId);
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`model ${modelDir}, mapping ${path.basename(config.mapping.path)}, loopback, ${seconds} s per level, median of ${runs} runs`);
console.log(
  `request: order-select, ${payload.length} bytes, full prefetch (${resources.length} resources); answer ${probeText.length} bytes, ${probeBody.cards?.length ?? 0} cards`,
);
console.log(
  `model only (runtime.predict, 1000 calls): batch 1 p50 ${model.p50.toFixed(3)} ms, p99 ${model.p99.toFixed(3)} ms; ` +
    `with the explanation (+ one batch of ${model.variants} occluded variants) p50 ${model.explainedP50.toFixed(3)} ms ` +
    `(${model.unsharedExplainedP50.toFixed(3)} ms without set sharing, x${(model.unsharedExplainedP50 / model.explainedP50).toFixed(2)})`,
);
// The model's share alone bounds the service: a call that shows a suggestion runs the record and its explanation.
const cores = availableParallelism();
console.log(
  `model-only ceiling: ${cores} cores / ${model.explainedP50.toFixed(3)} ms per explained call = at most ${Math.round((cores * 1000) / model.explainedP50)} calls/s ` +
    'for the model alone, before HTTP, history, cards, logs and the load generator',
);
console.log(`load average at start: ${load()}`);

// A fresh hookInstance per call, as a real EHR sends, without re-serialising the body.
const marker = String(body.hookInstance);
interface Level {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  cpuMs: number | undefined;
}
type Scenario = { auth: 'disabled' | 'jwt'; workers: number; cache: boolean; floor?: true };
const scenarios: Scenario[] = [
  ...(floor === 'on' ? workerCounts.map((workers) => ({ auth: 'disabled' as const, workers, cache: false, floor: true as const })) : []),
  ...(cacheModes.includes('off') ? authModes.flatMap((auth) => workerCounts.map((workers) => ({ auth, workers, cache: false }))) : []),
  ...(cacheModes.includes('on') ? workerCounts.map((workers) => ({ auth: 'disabled' as const, workers, cache: true })) : []),
];
for (const { auth, workers, cache, floor: isFloor } of scenarios) {
  {
    const service = isFloor ? await startFloorProcess(workers, probeText) : await startServiceProcess(auth, workers, cache);
    const url = `${service.base}${PATH}`;
    try {
      const check = await fetch(url, { method: 'POST', headers: headersFor(auth), body: payload.replace(marker, randomUUID()) });
      if (check.status !== 200) throw new Error(`auth ${auth}, ${workers} workers: check call answered ${check.status}: ${(await check.text()).slice(0, 300)}`);
      const cacheText = cache ? 'score cache ON (the same patient again: a session\'s repeated calls)' : 'score cache off (every call scored anew)';
      const processes = `${workers} worker process${workers > 1 ? 'es' : ''}`;
      const title = isFloor
        ? `HTTP floor: express + JSON body parser, the same request and answer bytes, no domain work, ${processes}`
        : `auth ${auth}, ${processes}, ${cacheText}`;
      console.log(`\n${title} (load ${load()})`);
      console.log('concurrency   req/s     p50 ms   p99 ms   non-2xx  errors   server CPU ms/req   model-only p50 ms (+explain)');
      for (const connections of levels) {
        const results: Level[] = [];
        for (let run = 0; run < runs; run++) {
          const cpuBefore = processTreeCpuMs(service.child.pid!);
          const result = await autocannon({
            url,
            method: 'POST',
            connections,
            duration: seconds,
            requests: [{ setupRequest: (req) => ({ ...req, headers: headersFor(auth), body: payload.replace(marker, randomUUID()) }) }],
          });
          const cpuAfter = processTreeCpuMs(service.child.pid!);
          results.push({
            rps: result.requests.average,
            p50: result.latency.p50,
            p99: result.latency.p99,
            non2xx: result.non2xx,
            errors: result.errors + result.timeouts,
            // Server CPU per request (quick 503s included): the figure a busy shared machine distorts least.
            cpuMs: cpuBefore !== undefined && cpuAfter !== undefined && result.requests.total > 0 ? (cpuAfter - cpuBefore) / result.requests.total : undefined,
          });
        }
        const m = (f: (l: Level) => number): number => median(results.map(f));
        const cpu = results.every((r) => r.cpuMs !== undefined) ? m((r) => r.cpuMs!).toFixed(2) : 'n/a';
        console.log(
          `${String(connections).padStart(11)}  ${m((r) => r.rps).toFixed(0).padStart(6)}  ${m((r) => r.p50).toFixed(2).padStart(8)}  ${m((r) => r.p99)
            .toFixed(2)
            .padStart(7)}  ${String(m((r) => r.non2xx)).padStart(8)}  ${String(m((r) => r.errors)).padStart(6)}  ${cpu.padStart(18)}  ${
            isFloor ? '         -' : `${model.p50.toFixed(3).padStart(10)} (${model.explainedP50.toFixed(3)})`
          }`,
        );
      }
      if (workers === 1 && !isFloor) {
        // The service's own view: model time per call as its metrics record it (includes waiting for the session).
        const metricsText = await (await fetch(`${service.base}/metrics`)).text();
        const metric = (name: string): number =>
          metricsText
            .split('\n')
            .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
            .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
        const count = metric('leader_cds_model_inference_seconds_count');
        if (count > 0) console.log(`model inference inside the service (metrics): ${count} runs, mean ${((metric('leader_cds_model_inference_seconds_sum') / count) * 1000).toFixed(3)} ms`);
      }
    } finally {
      await service.stop();
    }
  }
}
console.log(`\nload average at end: ${load()}`);
rmSync(work, { recursive: true, force: true });
