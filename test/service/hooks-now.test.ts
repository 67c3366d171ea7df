// "Now" at serving time (issue 11): the request's encounter, else one in progress, else the active problems as of
// today. Finished encounters and resolved conditions are history: never today's reason, never referenced.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Card, CdsResponse } from '../../src/service/contracts.ts';
import type { MedicationRequest } from 'fhir/r4';
import { describeResponseProblems } from '../../src/service/cards-schema.ts';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { SessionStore } from '../../src/service/hooks/session-store.ts';
import { fixtureHistory } from '../support/hooks-history.ts';
import { testMapping } from '../support/hooks-mapping.ts';
import { FixtureModel } from '../support/hooks-model.ts';
import { callContext, draftOrder, drafts, fullPrefetch, patientResources, selectRequest, signRequest, type PatientSpec } from '../support/hooks-patients.ts';

const TODAY = new Date('2026-12-03T12:00:00Z');

function services() {
  const list = createHookServices({ model: new FixtureModel(), mapping: testMapping(), history: fixtureHistory, sessionStore: new SessionStore(), clock: () => TODAY });
  return { select: list.find((s) => s.hook === 'order-select')!, sign: list.find((s) => s.hook === 'order-sign')! };
}

const suggestionCard = (res: CdsResponse): Card | undefined => res.cards.find((c) => c.source.label.startsWith('LEADER medication suggestions'));
const orderOf = (card: Card, i = 0) => card.suggestions![i]!.actions![0]!.resource as MedicationRequest;

/** The case: appendicitis-like stay years ago, everything finished and resolved. */
const stale: PatientSpec = {
  id: 'pt-stale',
  encounters: [
    { id: 'enc-2014', start: '2014-03-02T10:00:00Z', end: '2014-03-06T10:00:00Z', diagnoses: [['I48.91', 'Unspecified atrial fibrillation'], ['E11.9', 'Type 2 diabetes mellitus without complications']] },
  ],
  problems: [
    { id: 'prob-af', code: 'I48.91', display: 'Unspecified atrial fibrillation', clinicalStatus: 'resolved', onset: '2014-03-02', abatement: '2014-05-01' },
    { id: 'prob-dm', code: 'E11.9', display: 'Type 2 diabetes mellitus without complications', clinicalStatus: 'inactive', onset: '2014-03-02' },
  ],
};

describe('now: which encounter and which diagnoses are current', () => {
  test('only finished encounters and resolved conditions: no "strongly indicated" warning and no suggestion', async () => {
    const { select, sign } = services();
    const resources = patientResources(stale);
    const ctx = { userId: 'Practitioner/1', patientId: 'pt-stale', draftOrders: drafts(draftOrder('d1', '7646', 'omeprazole 20 MG Delayed Release Oral Capsule', 'pt-stale')) };
    const signed = await sign.handle(signRequest(ctx, { prefetch: fullPrefetch(resources, 'pt-stale') }), callContext());
    assert.deepEqual(describeResponseProblems(signed), []);
    assert.equal(suggestionCard(signed), undefined, 'nothing is strongly indicated by a 2014 stay');
    const selected = await select.handle(selectRequest({ ...ctx, selections: ['MedicationRequest/d1'] }, { prefetch: fullPrefetch(resources, 'pt-stale') }), callContext());
    assert.equal(suggestionCard(selected), undefined);
    assert.ok(!JSON.stringify([...signed.cards, ...selected.cards]).includes('Encounter/enc-2014'), 'no card references the finished stay');
  });

  test('an encounter in progress is "now": its diagnoses are current and suggestions reference it', async () => {
    const { select } = services();
    const spec: PatientSpec = {
      id: 'pt-inpt',
      encounters: [
        { id: 'enc-old', start: '2020-01-01T10:00:00Z', end: '2020-01-03T10:00:00Z', diagnoses: [['K21.9', 'Gastro-esophageal reflux disease without esophagitis']] },
        { id: 'enc-now', start: '2026-12-01T10:00:00Z', status: 'in-progress', diagnoses: [['I48.91', 'Unspecified atrial fibrillation']] },
      ],
    };
    const resources = patientResources(spec);
    const ctx = { userId: 'Practitioner/1', patientId: 'pt-inpt', selections: ['MedicationRequest/d1'], draftOrders: drafts(draftOrder('d1', '161', 'acetaminophen 500 MG Oral Tablet', 'pt-inpt')) };
    const res = await select.handle(selectRequest(ctx, { prefetch: fullPrefetch(resources, 'pt-inpt') }), callContext());
    const card = suggestionCard(res)!;
    assert.ok(card, 'a suggestion card');
    assert.equal(orderOf(card).encounter?.reference, 'Encounter/enc-now');
    assert.deepEqual(orderOf(card).reasonReference?.map((r) => r.reference), ['Condition/enc-now-dx0']);
    assert.match(card.detail!, /Now: the encounter in progress since 2026-12-01/);
    // GERD of the finished 2020 stay is history: it may move a score, it is never a reason.
    assert.ok(!JSON.stringify(card.suggestions).includes('enc-old'));
  });

  test('an encounter with no status and no end counts as in progress; one with an end does not', async () => {
    const { select } = services();
    const base = { userId: 'Practitioner/1', patientId: 'pt-nostatus', selections: ['MedicationRequest/d1'], draftOrders: drafts(draftOrder('d1', '161', 'acetaminophen 500 MG Oral Tablet', 'pt-nostatus')) };
    const open: PatientSpec = { id: 'pt-nostatus', encounters: [{ id: 'enc-open', start: '2026-12-02T10:00:00Z', status: null, diagnoses: [['I48.91', 'Unspecified atrial fibrillation']] }] };
    const openRes = await select.handle(selectRequest(base, { prefetch: fullPrefetch(patientResources(open), 'pt-nostatus') }), callContext());
    assert.equal(orderOf(suggestionCard(openRes)!).encounter?.reference, 'Encounter/enc-open');
    const closed: PatientSpec = { id: 'pt-nostatus', encounters: [{ ...open.encounters[0]!, end: '2026-12-02T18:00:00Z' }] };
    const closedRes = await select.handle(selectRequest(base, { prefetch: fullPrefetch(patientResources(closed), 'pt-nostatus') }), callContext());
    assert.equal(suggestionCard(closedRes), undefined);
  });

  test('no encounter in progress: active problems are current, and suggestions carry no encounter', async () => {
    const { select } = services();
    const spec: PatientSpec = {
      ...stale,
      id: 'pt-problems',
      problems: [
        ...stale.problems!,
        { id: 'prob-af-2', code: 'I48.91', display: 'Unspecified atrial fibrillation', clinicalStatus: 'recurrence', onset: '2025-06-01' },
        // Refuted and entered-in-error conditions are ignored everywhere.
        { id: 'prob-dm-refuted', code: 'E11.9', display: 'Type 2 diabetes mellitus without complications', clinicalStatus: 'active', verificationStatus: 'refuted' },
        { id: 'prob-dm-eie', code: 'E11.9', display: 'Type 2 diabetes mellitus without complications', clinicalStatus: 'active', verificationStatus: 'entered-in-error' },
        // Active but abated (a date in the past) is not current; no clinicalStatus is not a current problem either.
        { id: 'prob-gerd', code: 'K21.9', display: 'Gastro-esophageal reflux disease without esophagitis', clinicalStatus: 'active', abatement: '2026-01-01' },
        { id: 'prob-htn', code: 'I10', display: 'Essential (primary) hypertension' },
      ],
    };
    const resources = patientResources(spec);
    const ctx = { userId: 'Practitioner/1', patientId: 'pt-problems', selections: ['MedicationRequest/d1'], draftOrders: drafts(draftOrder('d1', '161', 'acetaminophen 500 MG Oral Tablet', 'pt-problems')) };
    const res = await select.handle(selectRequest(ctx, { prefetch: fullPrefetch(resources, 'pt-problems') }), callContext());
    assert.deepEqual(describeResponseProblems(res), []);
    const card = suggestionCard(res)!;
    assert.ok(card);
    assert.match(card.detail!, /Now: no encounter in progress; 1 active problem as of 2026-12-03/);
    const labels = card.suggestions!.map((s) => s.label);
    assert.ok(labels.includes('Order warfarin'), 'atrial fibrillation (recurrence) is current');
    assert.ok(!labels.includes('Order metformin'), 'the refuted / entered-in-error / inactive diabetes is not');
    assert.ok(!labels.includes('Order lisinopril') && !labels.includes('Order omeprazole'));
    for (const s of card.suggestions!) {
      const mr = s.actions![0]!.resource as MedicationRequest;
      assert.equal(mr.encounter, undefined, 'no encounter is current, so none is referenced');
      for (const r of mr.reasonReference ?? []) assert.equal(r.reference, 'Condition/prob-af-2');
    }
  });

  test('an encounterId the data does not show is the current encounter, referenced, with the active problems', async () => {
    const { select } = services();
    const spec: PatientSpec = { id: 'pt-new', encounters: [], problems: [{ id: 'p1', code: 'I48.91', display: 'Unspecified atrial fibrillation', clinicalStatus: 'active' }] };
    const ctx = { userId: 'Practitioner/1', patientId: 'pt-new', encounterId: 'enc-today', selections: ['MedicationRequest/d1'], draftOrders: drafts(draftOrder('d1', '161', 'acetaminophen 500 MG Oral Tablet', 'pt-new')) };
    const res = await select.handle(selectRequest(ctx, { prefetch: fullPrefetch(patientResources(spec), 'pt-new') }), callContext());
    const card = suggestionCard(res)!;
    assert.equal(orderOf(card).encounter?.reference, 'Encounter/enc-today');
    assert.match(card.detail!, /Encounter\/enc-today \(from the request; not in the data read\)/);
  });

  test('an empty draft (no medication yet) is not named; an unrecognised one is named once', async () => {
    const { select } = services();
    const spec: PatientSpec = { id: 'pt-d', encounters: [{ id: 'e1', start: '2026-12-02T10:00:00Z', status: 'in-progress', diagnoses: [['I48.91', 'Unspecified atrial fibrillation']] }] };
    const blank: MedicationRequest = { resourceType: 'MedicationRequest', id: 'blank', status: 'draft', intent: 'order', subject: { reference: 'Patient/pt-d' } } as MedicationRequest;
    const odd = draftOrder('odd', '999999999', 'Unheardofmab 5 MG Injection', 'pt-d');
    const ctx = { userId: 'Practitioner/1', patientId: 'pt-d', selections: ['MedicationRequest/blank'], draftOrders: drafts(blank, odd, { ...odd, id: 'odd2' }) };
    const res = await select.handle(selectRequest(ctx, { prefetch: fullPrefetch(patientResources(spec), 'pt-d') }), callContext());
    const text = JSON.stringify(res.cards);
    assert.ok(!/unnamed medication/.test(text));
    assert.equal(text.match(/Unheardofmab 5 MG Injection/g)?.length, 1);
  });
});
