import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MedicationRequest } from 'fhir/r4';
import { describeResponseProblems } from '../../src/service/cards-schema.ts';
import { ServiceError } from '../../src/service/contracts.ts';
import type { CardLogEntry } from '../../src/service/hooks/ports.ts';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { SessionStore } from '../../src/service/hooks/session-store.ts';
import { fixtureHistory } from '../support/hooks-history.ts';
import { testMapping } from '../support/hooks-mapping.ts';
import { FixtureModel } from '../support/hooks-model.ts';
import { afibPatient, callContext, draftOrder, drafts, fullPrefetch, patientResources, selectRequest, signRequest } from '../support/hooks-patients.ts';

// Diabetes now: metformin is strongly indicated (p ~ 0.88), atorvastatin less so (p ~ 0.62 with age band 60+).
const diabetic = patientResources({
  ...afibPatient,
  encounters: [
    ...afibPatient.encounters,
    { id: 'enc-3', start: '2025-02-01T08:00:00Z', diagnoses: [['E11.9', 'Type 2 diabetes mellitus without complications'], ['I48.91', 'Unspecified atrial fibrillation']] },
  ],
});
const prefetch = () => fullPrefetch(diabetic, 'pt-afib', 'enc-3');
const warfarin = draftOrder('draft-warfarin', '11289', 'warfarin sodium 5 MG Oral Tablet', 'pt-afib', 'enc-3');
const ibuprofen = draftOrder('draft-ibuprofen', '5640', 'ibuprofen 400 MG Oral Tablet', 'pt-afib', 'enc-3');
const amoxicillin = draftOrder('draft-amox', '617993', 'amoxicillin / clavulanate oral suspension', 'pt-afib', 'enc-3');

function setup(sessionStore = new SessionStore()) {
  const log: CardLogEntry[] = [];
  const services = createHookServices({ model: new FixtureModel(), mapping: testMapping(), history: fixtureHistory, sessionStore, cardLog: { record: (e) => void log.push(e) } });
  return {
    log,
    sessionStore,
    select: services.find((s) => s.hook === 'order-select')!,
    sign: services.find((s) => s.hook === 'order-sign')!,
  };
}

const signContext = (...orders: MedicationRequest[]) => ({ userId: 'Practitioner/1', patientId: 'pt-afib', encounterId: 'enc-3', draftOrders: drafts(...orders) });

describe('order-sign', () => {
  test('checks the complete draft set: every interacting pair, and strongly indicated classes missing', async () => {
    const { sign, log } = setup();
    const res = await sign.handle(signRequest(signContext(warfarin, ibuprofen, amoxicillin), { prefetch: prefetch() }), callContext());
    assert.deepEqual(describeResponseProblems(res), []);
    const warnings = res.cards.filter((c) => c.source.label === 'LEADER interaction check');
    // warfarin+ibuprofen, warfarin+amoxicillin, lisinopril(active)+ibuprofen.
    assert.equal(warnings.length, 3);
    assert.ok(warnings.some((w) => /lisinopril/.test(w.summary) && /ibuprofen/.test(w.summary)));
    const missing = res.cards.find((c) => c.source.label.startsWith('LEADER medication suggestions'));
    assert.ok(missing);
    // Only classes above the strong threshold (0.8): metformin (~0.88); not metoprolol (~0.67) nor atorvastatin (~0.62).
    assert.deepEqual(missing.suggestions!.map((s) => s.label), ['Order metformin']);
    assert.ok(missing.suggestions!.every((s) => s.isRecommended === true));
    assert.match(missing.summary, /Strongly indicated/);
    assert.equal(log.find((e) => e.cardUuid === missing.uuid)?.kind, 'missing-class');
  });

  test('does not repeat what order-select said in the same session, and keeps sessions apart', async () => {
    const { select, sign } = setup();
    const selected = await select.handle(
      selectRequest({ userId: 'Practitioner/1', patientId: 'pt-afib', encounterId: 'enc-3', selections: ['MedicationRequest/draft-ibuprofen'], draftOrders: drafts(warfarin, ibuprofen) }, { prefetch: prefetch() }),
      callContext(),
    );
    const saidWarnings = selected.cards.filter((c) => c.indicator === 'warning' && c.source.label === 'LEADER interaction check');
    assert.equal(saidWarnings.length, 2, 'ibuprofen with warfarin and with lisinopril');
    const saidSuggestions = selected.cards.find((c) => c.source.label.startsWith('LEADER medication suggestions'))!.suggestions!.map((s) => s.label);
    assert.ok(saidSuggestions.includes('Order metformin'));

    const signed = await sign.handle(signRequest(signContext(warfarin, ibuprofen), { prefetch: prefetch() }), callContext());
    assert.deepEqual(describeResponseProblems(signed), []);
    assert.equal(signed.cards.filter((c) => c.source.label === 'LEADER interaction check').length, 0);
    const missing = signed.cards.find((c) => c.source.label.startsWith('LEADER medication suggestions'));
    assert.equal(missing, undefined, 'metformin was already suggested at order-select');

    // Same patient and encounter, another client (issuer): nothing was said there yet.
    const other = await sign.handle(signRequest(signContext(warfarin, ibuprofen), { prefetch: prefetch() }), callContext(2000, 'https://other-ehr.test'));
    assert.equal(other.cards.filter((c) => c.source.label === 'LEADER interaction check').length, 2);
  });

  test('a new interacting draft added after order-select is still reported at signing', async () => {
    const { select, sign } = setup();
    await select.handle(
      selectRequest({ userId: 'Practitioner/1', patientId: 'pt-afib', encounterId: 'enc-3', selections: ['MedicationRequest/draft-warfarin'], draftOrders: drafts(warfarin) }, { prefetch: prefetch() }),
      callContext(),
    );
    const signed = await sign.handle(signRequest(signContext(warfarin, amoxicillin), { prefetch: prefetch() }), callContext());
    const warnings = signed.cards.filter((c) => c.source.label === 'LEADER interaction check');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.summary, /warfarin.*amoxicillin|amoxicillin.*warfarin/);
  });

  test('bad input: wrong hook, draftOrders not a Bundle, missing userId', async () => {
    const { sign } = setup();
    await assert.rejects(sign.handle({ ...signRequest(signContext(warfarin), { prefetch: prefetch() }), hook: 'order-select' }, callContext()), (e: unknown) => e instanceof ServiceError && e.kind === 'invalid');
    await assert.rejects(
      sign.handle(signRequest({ ...signContext(warfarin), draftOrders: { resourceType: 'Patient' } }, { prefetch: prefetch() }), callContext()),
      (e: unknown) => e instanceof ServiceError && e.kind === 'invalid' && e.expression?.[0] === 'context.draftOrders.resourceType',
    );
    await assert.rejects(sign.handle(signRequest({ patientId: 'pt-afib', draftOrders: drafts() }, { prefetch: prefetch() }), callContext()), (e: unknown) => e instanceof ServiceError && /userId/.test(e.message));
  });
});

describe('session store', () => {
  test('expires sessions after the TTL and keeps at most maxSessions', () => {
    let now = 1000;
    const store = new SessionStore({ ttlMs: 100, maxSessions: 2, now: () => now });
    store.record({ patientId: 'a' }, ['x']);
    store.record({ patientId: 'b' }, ['y']);
    store.record({ patientId: 'c' }, ['z']);
    assert.equal(store.size, 2);
    assert.equal(store.said({ patientId: 'a' }).size, 0, 'oldest evicted');
    assert.ok(store.said({ patientId: 'c' }).has('z'));
    now += 101;
    assert.equal(store.said({ patientId: 'c' }).size, 0, 'expired');
  });
});
