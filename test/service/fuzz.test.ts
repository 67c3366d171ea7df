// Fuzzing the real app on loopback: seeded mutations of valid requests (fields dropped, replaced, type-flipped,
// JSON truncated, random bytes, huge strings, deep nesting, wrong content types, wrong methods) against the real
// handlers and the edge. Every answer must be < 500, the process must not see an uncaught error, and the app must
// still answer /healthz afterwards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import prand from 'pure-rand';
import { projectRoot } from '../../src/service/config.ts';
import { bindDefinitions, loadServiceDefinitions } from '../../src/service/definitions.ts';
import { cardLogPort } from '../../src/service/feedback/card-log.ts';
import { FeedbackStore } from '../../src/service/feedback/store.ts';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { hookMetricsPort } from '../../src/service/ops/hook-metrics.ts';
import { createMetrics } from '../../src/service/ops/metrics.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import { historyPort } from '../../src/service/wiring.ts';
import { generatePatients } from '../../src/synth/generator.ts';
import type { Encounter, MedicationRequest } from 'fhir/r4';
import { FixtureModel } from '../support/hooks-model.ts';
import { drafts, fullPrefetch } from '../support/hooks-patients.ts';
import { buildTestApp, echoService, orderSelectRequest } from './http-fixture.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const MAX_REQUESTS = 3000;
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_MS ?? 15_000);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const rng = prand.xoroshiro128plus(SEED);
const int = (n: number): number => prand.unsafeUniformIntDistribution(0, n - 1, rng);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

function paths(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = [], depth = 0): Array<Array<string | number>> {
  if (depth > 9 || value === null || typeof value !== 'object') return out;
  const entries: Array<[string | number, Json]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [k, v] of entries) {
    out.push([...prefix, k]);
    paths(v, [...prefix, k], out, depth + 1);
  }
  return out;
}

function parentOf(root: Json, p: Array<string | number>): { [k: string]: Json } | Json[] | undefined {
  let node: Json = root;
  for (const k of p.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, Json>)[k as string] as Json;
  }
  return node !== null && typeof node === 'object' ? node : undefined;
}

const DEEP = '__DEEP__';
function randomString(): string {
  const alphabet = 'aZ09-_/.:{}[]"\\ \u00e9\u4e2d\ud83d\ude00\u0000\n';
  return Array.from({ length: int(40) }, () => alphabet[int(alphabet.length)]).join('');
}
function randomValue(): Json {
  switch (int(14)) {
    case 0: return null;
    case 1: return pick([true, false]);
    case 2: return pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER]);
    case 3: return '';
    case 4: return randomString();
    case 5: return 'x'.repeat(int(20_000));
    case 6: return [];
    case 7: return {};
    case 8: return DEEP;
    case 9: return { resourceType: pick(['Bundle', 'Patient', 'OperationOutcome', 'MedicationRequest', 'bad type', '']), entry: pick<Json>(['x', [], [null], [{ resource: null }], [{ resource: { resourceType: 'MedicationRequest' } }]]) };
    case 10: return pick(['MedicationRequest/draft-warfarin', 'Patient/pt-afib', 'Encounter/enc-2', randomUUID()]);
    case 11: return [randomString(), null, 3];
    case 12: return pick(['order-select', 'order-sign', 'patient-view']);
    default: return { [randomString()]: randomString() };
  }
}

function mutate(root: Json): Json {
  const all = paths(root);
  if (all.length === 0) return randomValue();
  const p = pick(all);
  const parent = parentOf(root, p);
  if (!parent) return root;
  const key = p[p.length - 1]!;
  const current = (parent as Record<string, Json>)[key as string];
  switch (int(5)) {
    case 0: // drop
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 1: // replace
      (parent as Record<string, Json>)[key as string] = randomValue();
      break;
    case 2: // type flip
      (parent as Record<string, Json>)[key as string] =
        typeof current === 'string' ? (Number(current) || 7) : typeof current === 'number' ? String(current) : Array.isArray(current) ? { ...current } : current && typeof current === 'object' ? Object.values(current) : String(current);
      break;
    case 3: // add a key
      if (!Array.isArray(parent)) parent[randomString() || 'k'] = randomValue();
      else parent.push(randomValue());
      break;
    default: // duplicate an array element or a sibling
      if (Array.isArray(parent)) parent.push(JSON.parse(JSON.stringify(current ?? null)) as Json);
      else (parent as Record<string, Json>)[key as string] = [current ?? null, current ?? null];
  }
  return root;
}

function deep(depth: number): string {
  return pick(['[', '{"a":']).repeat(1) === '[' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

// A synthetic patient (the project's own generator) with history; one order of the last encounter is the draft.
const cohort = [...generatePatients({ seed: 11, patients: 40 })].find((p) => p.resources.filter((r) => r.resourceType === 'Encounter').length >= 3)!;
const current = cohort.resources.filter((r): r is Encounter => r.resourceType === 'Encounter').at(-1)!;
const currentOrders = cohort.resources.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest' && r.encounter?.reference === `Encounter/${current.id}`);
const resources = cohort.resources.filter((r) => !currentOrders.includes(r as MedicationRequest));
const draft: MedicationRequest = { ...(currentOrders[0] ?? { resourceType: 'MedicationRequest', intent: 'order', subject: { reference: `Patient/${cohort.patient.id}` }, medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '11289', display: 'warfarin' }] } }), id: 'draft-1', status: 'draft' };
function seeds(): Array<{ path: string; body: Json }> {
  const select = {
    hook: 'order-select',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/1', patientId: cohort.patient.id, encounterId: current.id, selections: ['MedicationRequest/draft-1'], draftOrders: drafts(draft) },
    prefetch: fullPrefetch(resources, cohort.patient.id!, current.id),
  } as unknown as Json;
  const sign = JSON.parse(JSON.stringify(select)) as { [k: string]: Json };
  sign.hook = 'order-sign';
  delete (sign.context as Record<string, Json>).selections;
  const feedback = { feedback: [{ card: randomUUID(), outcome: 'accepted', acceptedSuggestions: [{ id: randomUUID() }], outcomeTimestamp: new Date().toISOString() }] };
  return [
    { path: '/cds-services/leader-order-select', body: select },
    { path: '/cds-services/leader-order-sign', body: sign },
    { path: '/cds-services/echo-select', body: orderSelectRequest() as unknown as Json },
    { path: '/cds-services/leader-order-select/feedback', body: feedback },
  ];
}

describe('fuzz', () => {
  it(`answers thousands of mutated requests with < 500 and keeps running (seed ${SEED})`, async () => {
    const fatal: unknown[] = [];
    const onFatal = (err: unknown): void => void fatal.push(err);
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);

    const store = new FeedbackStore(':memory:');
    const metrics = createMetrics({ defaultMetrics: false });
    // The product's mapping and history builder; the model is the hook tests' deterministic one (no ONNX file needed).
    const mapping = await loadMapping(path.join(projectRoot, 'mappings/synthetic.json'));
    const handlers = createHookServices({ model: new FixtureModel(), mapping, history: await historyPort(), metrics: hookMetricsPort(metrics), cardLog: cardLogPort(store) });
    const services = [...bindDefinitions(loadServiceDefinitions(path.join(projectRoot, 'cds-hooks')), handlers), echoService('echo-select', 'order-select')];
    // A roomy budget: this test is about robustness, the budget has its own tests.
    const t = buildTestApp({ services, store, metrics, config: { server: { timeBudgetMs: 5000, bodyLimit: '256kb' }, log: { level: 'error' } } });
    const server = createServer(t.app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const statuses = new Map<number, number>();
    const timeByStatus = new Map<number, number>();
    const failures: string[] = [];
    const started = Date.now();
    let sent = 0;
    try {
      while (sent < MAX_REQUESTS && Date.now() - started < TIME_LIMIT_MS) {
        const seed = pick(seeds());
        let body = JSON.parse(JSON.stringify(seed.body)) as Json;
        for (let m = 1 + int(3); m > 0; m--) body = mutate(body);
        let text = JSON.stringify(body).replace(`"${DEEP}"`, deep(1 + int(20_000)));
        const shape = int(20);
        if (shape === 0) text = text.slice(0, int(text.length));
        else if (shape === 1) text = Buffer.from(Array.from({ length: int(2000) }, () => int(256))).toString('latin1');
        else if (shape === 2) text = `{"hook":"order-select","pad":"${'y'.repeat(300_000)}"}`;
        else if (shape === 3) text = '';
        const contentType = int(10) > 0 ? pick(['application/json', 'application/json; charset=utf-8', 'application/fhir+json']) : pick(['text/plain', 'application/json; charset=latin1', 'multipart/form-data', '']);
        const method = int(25) === 0 ? pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) : 'POST';
        const target = int(30) === 0 ? pick(['/cds-services/', '/cds-services/%00', `/cds-services/${randomString().replace(/[^a-z]/g, '') || 'x'}`, '/cds-services/leader-order-select/feedback/x', '/..%2f..%2fetc/passwd']) : seed.path;
        const headers: Record<string, string> = {};
        if (contentType) headers['content-type'] = contentType;
        if (int(10) === 0) headers.authorization = pick(['Bearer x.y.z', 'Basic abc', 'Bearer ' + 'a'.repeat(3000), 'Bearer']);
        if (int(10) === 0) headers['x-request-id'] = randomString().replace(/[^\x20-\x7e]/g, '');
        let status: number;
        const t0 = performance.now();
        try {
          const res = await fetch(base + target, { method, headers, ...(method === 'GET' || method === 'OPTIONS' ? {} : { body: text }) });
          status = res.status;
          const answer = await res.text();
          if (status >= 400 && !['OPTIONS'].includes(method) && status !== 204) {
            const outcome = JSON.parse(answer) as { resourceType?: string };
            if (outcome.resourceType !== 'OperationOutcome') failures.push(`${status} without OperationOutcome for ${method} ${target}`);
          }
        } catch (err) {
          failures.push(`request failed: ${(err as Error).message}`);
          status = -1;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        timeByStatus.set(status, (timeByStatus.get(status) ?? 0) + performance.now() - t0);
        if (status >= 500) failures.push(`${status} for ${method} ${target} ${contentType} ${text.slice(0, 200)}`);
        sent++;
      }
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200, 'the app still answers');
    } finally {
      server.closeAllConnections();
      server.close();
      process.off('uncaughtException', onFatal);
      process.off('unhandledRejection', onFatal);
      store.close();
    }
    const summary = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ');
    console.log([...timeByStatus.entries()].map(([s, t]) => `${s}: ${(t / statuses.get(s)!).toFixed(1)} ms`).join(', '));
    console.log(`fuzz: ${sent} requests in ${Date.now() - started} ms; statuses ${summary}`);
    // The edge logs every unexpected error with its stack: show the distinct ones (first frames) when this fails.
    const stacks = [...new Set(t.logs.filter((l) => l.includes('unexpected error')).map((l) => {
      const err = (JSON.parse(l) as { err?: { stack?: string } }).err;
      return (err?.stack ?? '').split('\n').slice(0, 4).join(' | ');
    }))];
    assert.deepEqual(failures.slice(0, 10), [], stacks.join('\n'));
    assert.deepEqual(fatal, []);
    // Thousands on an idle machine; far fewer when the machine is shared, so the floor is low.
    assert.ok(sent >= 300, `only ${sent} requests in the time limit`);
    assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0, 'both valid and invalid requests were exercised');
  });
});
