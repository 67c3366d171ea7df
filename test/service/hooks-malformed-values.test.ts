// Non-string values where FHIR R4 has strings (a number as a reference, an object as a code) reach the handlers
// when the edge's shape check is not in the way (direct calls, data fetched from a FHIR server): each is an
// ignored value or a counted issue, never a crash. Covers the handler fixtures too, so tests built on them can
// feed malformed data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Coding, FhirResource } from 'fhir/r4';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { fixtureHistory } from '../support/hooks-history.ts';
import { ATC, ICD10, RXNORM, SNOMED, testMapping } from '../support/hooks-mapping.ts';
import { FixtureModel } from '../support/hooks-model.ts';
import { afibPatient, callContext, drafts, fullPrefetch, patientResources, selectRequest } from '../support/hooks-patients.ts';

const raw = (value: Record<string, unknown>) => value as unknown as Coding;
const malformed = <T>(value: unknown) => value as T;

test('test mapping: a code that is not a string gives no entry and no label', () => {
  const m = testMapping();
  assert.equal(m.codedEntry('diagnosis', raw({ system: ICD10, code: 4891 })), undefined);
  assert.equal(m.codedEntry('procedure', raw({ system: SNOMED, code: { value: '232717009' } })), undefined);
  assert.deepEqual(m.medicationLabels([raw({ system: ATC, code: 1 }), raw({ system: RXNORM, code: ['6918'] })]), []);
  assert.deepEqual(m.medicationLabels([raw({ system: RXNORM, code: 'constructor' })]), [], 'no label from the prototype');
  assert.deepEqual(m.medicationLabels([raw({ system: RXNORM, code: 6918 }), { system: RXNORM, code: '6918' }]), ['C07A']);
});

test('history port: non-string encounter references and starts are counted issues, the rest is read', () => {
  const resources = patientResources(afibPatient).map((r) => structuredClone(r));
  const condition = resources.find((r) => r.resourceType === 'Condition')!;
  (condition as { encounter: unknown }).encounter = { reference: 17 };
  const encounter = resources.find((r) => r.resourceType === 'Encounter')!;
  (encounter as { period: unknown }).period = { start: 20240101 };
  const { history, issues } = fixtureHistory.historyFromResources(resources, testMapping(), 'pt-afib');
  assert.equal(history.encounters.length, afibPatient.encounters.length - 1);
  const kinds = (issues as Array<{ kind: string; resource: string }>).map((i) => `${i.kind} ${i.resource}`);
  // The start that is not a string is no start; the reference that is not a string is no reference.
  assert.ok(kinds.includes('missing-date Encounter/enc-1'), JSON.stringify(issues));
  assert.ok(kinds.includes('no-encounter Condition/enc-1-dx0'), JSON.stringify(issues));
});

test('order-select answers when orders carry a medicationReference whose reference is not a string', async () => {
  const model = new FixtureModel();
  const select = createHookServices({ model, mapping: testMapping(), history: fixtureHistory }).find((s) => s.hook === 'order-select')!;
  const resources = patientResources(afibPatient);
  const odd = (id: string, reference: unknown): FhirResource =>
    malformed<FhirResource>({ resourceType: 'MedicationRequest', id, status: 'active', intent: 'order', subject: { reference: 'Patient/pt-afib' }, encounter: { reference: 'Encounter/enc-2' }, medicationReference: { reference } });
  const prefetch = fullPrefetch([...resources, odd('mr-number', 42), odd('mr-object', { id: 'm' })], 'pt-afib', 'enc-2');
  const draft = odd('draft-odd', 7);
  const res = await select.handle(
    selectRequest({ userId: 'Practitioner/1', patientId: 'pt-afib', encounterId: 'enc-2', selections: ['MedicationRequest/draft-odd'], draftOrders: drafts(draft) }, { prefetch }),
    callContext(),
  );
  const detail = res.cards.map((c) => c.detail ?? '').join('\n');
  assert.ok(res.cards.length > 0, 'the model still suggests');
  assert.match(detail, /2 MedicationRequest\(s\) with a malformed medicationReference/);
});
