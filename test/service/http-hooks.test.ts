// The real hook handlers (createHookServices, with the hook tests' deterministic model and mapping) behind the
// real edge: what an EHR sees for good calls, bad contexts, and a FHIR server that fails or hangs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { describeResponseProblems } from '../../src/service/cards-schema.ts';
import { bindDefinitions, loadServiceDefinitions } from '../../src/service/definitions.ts';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { cardLogPort } from '../../src/service/feedback/card-log.ts';
import { hookMetricsPort } from '../../src/service/ops/hook-metrics.ts';
import { FeedbackStore } from '../../src/service/feedback/store.ts';
import { createMetrics } from '../../src/service/ops/metrics.ts';
import { projectRoot } from '../../src/service/config.ts';
import path from 'node:path';
import { FhirTestServer } from '../support/fhir-server.ts';
import { fixtureHistory } from '../support/hooks-history.ts';
import { testMapping } from '../support/hooks-mapping.ts';
import { FixtureModel } from '../support/hooks-model.ts';
import { afibPatient, draftOrder, drafts, fullPrefetch, patientResources } from '../support/hooks-patients.ts';
import { buildTestApp } from './http-fixture.ts';
import { randomUUID } from 'node:crypto';

const TOKEN = 'edge-fhir-token-93b1';
const resources = patientResources(afibPatient);
const warfarin = draftOrder('draft-warfarin', '11289', 'warfarin sodium 5 MG Oral Tablet', 'pt-afib', 'enc-2');
let fhir: FhirTestServer;
before(async () => {
  fhir = await new FhirTestServer(TOKEN).start();
  fhir.add(...resources);
});
after(() => fhir.close());

/** The product's services from cds-hooks/*.json, as `serve` binds them, on the test model. */
export function realServices(store = new FeedbackStore(':memory:'), metrics = createMetrics({ defaultMetrics: false })) {
  const handlers = createHookServices({
    model: new FixtureModel(),
    mapping: testMapping(),
    history: fixtureHistory,
    metrics: hookMetricsPort(metrics),
    cardLog: cardLogPort(store),
  });
  return bindDefinitions(loadServiceDefinitions(path.join(projectRoot, 'cds-hooks')), handlers);
}

function selectBody(extra: Record<string, unknown> = {}, context: Record<string, unknown> = {}) {
  return {
    hook: 'order-select',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/1', patientId: 'pt-afib', encounterId: 'enc-2', selections: ['MedicationRequest/draft-warfarin'], draftOrders: drafts(warfarin), ...context },
    prefetch: fullPrefetch(resources, 'pt-afib', 'enc-2'),
    ...extra,
  };
}

function app(budget = 300) {
  const store = new FeedbackStore(':memory:');
  const metrics = createMetrics({ defaultMetrics: false });
  const services = realServices(store, metrics);
  return buildTestApp({ services, store, metrics, config: { server: { timeBudgetMs: budget } } });
}

describe('real handlers behind the edge', () => {
  it('discovery lists the services and prefetch keys of cds-hooks/*.json', async () => {
    const t = app();
    const res = await request(t.app).get('/cds-services').expect(200);
    const byHook = Object.fromEntries(res.body.services.map((s: { hook: string }) => [s.hook, s]));
    assert.deepEqual(Object.keys(byHook).sort(), ['order-select', 'order-sign']);
    for (const s of Object.values(byHook) as Array<{ prefetch: Record<string, string>; description: string; id: string }>) {
      assert.deepEqual(Object.keys(s.prefetch).sort(), ['conditions', 'encounter', 'encounters', 'medications', 'patient', 'procedures']);
      assert.equal(s.prefetch.patient, 'Patient/{{context.patientId}}');
      assert.ok(s.description.length > 20);
    }
  });

  it('answers order-select with full prefetch with spec-valid cards, and feedback on them is summarised by label', async () => {
    const t = app();
    const res = await request(t.app).post('/cds-services/leader-order-select').send(selectBody()).expect(200);
    assert.deepEqual(describeResponseProblems(res.body), []);
    assert.ok(res.body.cards.length > 0, 'the afib patient gets advice');
    const card = res.body.cards.find((c: { suggestions?: unknown[] }) => c.suggestions) ?? res.body.cards[0];
    const feedback = card.suggestions
      ? { card: card.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: card.suggestions[0].uuid }], outcomeTimestamp: new Date().toISOString() }
      : { card: card.uuid, outcome: 'overridden', outcomeTimestamp: new Date().toISOString() };
    await request(t.app).post('/cds-services/leader-order-select/feedback').send({ feedback: [feedback] }).expect(200);
    const summary = (await request(t.app).get('/feedback/summary').expect(200)).body as { rows: Array<{ modelVersion: string; withFeedback: number }>; unmatchedFeedback: number };
    assert.ok(summary.rows.length > 0, 'the handlers recorded their cards by model version and label');
    assert.ok(summary.rows.every((r) => r.modelVersion === 'fixture-1'));
    assert.ok(summary.rows.some((r) => r.withFeedback > 0), 'the feedback is tied to the issued card');
    assert.equal(summary.unmatchedFeedback, 0);
    const metrics = await t.metrics.registry.metrics();
    assert.match(metrics, /leader_cds_model_inference_seconds_count|leader_cds_prefetch_keys_total\{key="patient",source="prefetch"\} 1/);
  });

  it('400 for a context the handler cannot use: draftOrders not a Bundle, selections pointing nowhere, missing patientId', async () => {
    const t = app();
    for (const context of [{ draftOrders: { resourceType: 'Patient' } }, { selections: ['MedicationRequest/none'] }, { patientId: undefined }]) {
      const res = await request(t.app).post('/cds-services/leader-order-select').send(selectBody({}, context));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.resourceType, 'OperationOutcome');
    }
  });

  it('reads from the FHIR server when prefetch is missing; 412 when it answers 500; within budget when it hangs', async () => {
    // A roomy budget for the answers that need the server (this machine is shared); the hang gets the default 300 ms.
    const t = app(3000);
    const fallback = {
      prefetch: undefined,
      fhirServer: fhir.base,
      fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'cds' },
    };
    fhir.failure = { kind: 'none' };
    const ok = await request(t.app).post('/cds-services/leader-order-select').send(selectBody(fallback));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(describeResponseProblems(ok.body), []);
    fhir.failure = { kind: 'status', status: 500 };
    const failed = await request(t.app).post('/cds-services/leader-order-select').send(selectBody(fallback));
    assert.ok([412, 503].includes(failed.status), `status ${failed.status}`);
    assert.equal(failed.body.resourceType, 'OperationOutcome');
    fhir.failure = { kind: 'delay', ms: 5000 };
    const tight = app(300);
    const started = Date.now();
    const slow = await request(tight.app).post('/cds-services/leader-order-select').send(selectBody(fallback));
    const elapsed = Date.now() - started;
    fhir.failure = { kind: 'none' };
    assert.ok(slow.status < 500 || slow.status === 503, `status ${slow.status}`);
    assert.ok(elapsed < 300 + 150, `answered after ${elapsed} ms`);
    assert.ok(!t.logs.join('').includes(TOKEN) && !tight.logs.join('').includes(TOKEN), 'the FHIR token is never logged');
  });
});
