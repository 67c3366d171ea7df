// The public CRD test kit's CDS Hooks requests (../shared/fixtures/cds-hooks), answered through the handlers with
// their FHIR data served by the loopback FHIR server. Skips, saying so, when ../shared is absent.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FhirResource, MedicationRequest } from 'fhir/r4';
import { describeResponseProblems } from '../../src/service/cards-schema.ts';
import type { HookRequest } from '../../src/service/contracts.ts';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { SessionStore } from '../../src/service/hooks/session-store.ts';
import { FhirTestServer } from '../support/fhir-server.ts';
import { fixtureHistory } from '../support/hooks-history.ts';
import { RXNORM, testMapping } from '../support/hooks-mapping.ts';
import { FixtureModel } from '../support/hooks-model.ts';
import { callContext } from '../support/hooks-patients.ts';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = resolve(projectRoot, '../shared/fixtures/cds-hooks');
const present = existsSync(resolve(dir, 'order_select_hook_request.json'));
const skip = present ? false : `../shared/fixtures/cds-hooks not found at ${dir}: shared CDS Hooks fixtures skipped`;
if (!present) console.log(`# ${skip}`);

const read = <T>(name: string): T => JSON.parse(readFileSync(resolve(dir, name), 'utf8')) as T;

describe('shared CDS Hooks fixtures', { skip }, () => {
  let server: FhirTestServer;
  before(async () => {
    const request = read<HookRequest>('order_select_hook_request.json');
    server = await new FhirTestServer(request.fhirAuthorization?.access_token).start();
    server.add(read<FhirResource>('crd_patient_example.json'), read<FhirResource>('crd_encounter_example.json'));
  });
  after(() => server?.close());

  const services = () => createHookServices({ model: new FixtureModel(), mapping: testMapping(), history: fixtureHistory, sessionStore: new SessionStore() });
  const pointed = (name: string): HookRequest => ({ ...read<HookRequest>(name), fhirServer: server.base });

  test('order_select_hook_request.json: answered, data read from fhirServer with its token', async () => {
    const select = services().find((s) => s.hook === 'order-select')!;
    const seen = server.requests.length;
    const res = await select.handle(pointed('order_select_hook_request.json'), callContext());
    assert.deepEqual(describeResponseProblems(res), []);
    // The example patient has no diagnoses and no medications: nothing to suggest, nothing interacts.
    assert.deepEqual(res, { cards: [] });
    assert.ok(server.requests.slice(seen).some((r) => r.path.startsWith('/fhir/Patient/example') && r.authorization === 'Bearer SAMPLE_TOKEN'));
  });

  test('order_select_hook_request.json with an active warfarin order: the selected amoxicillin draft is flagged', async () => {
    const active: MedicationRequest = {
      resourceType: 'MedicationRequest',
      id: 'fixture-active-warfarin',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/example' },
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: '11289', display: 'warfarin' }], text: 'warfarin' },
    };
    server.add(active);
    try {
      const select = services().find((s) => s.hook === 'order-select')!;
      const res = await select.handle(pointed('order_select_hook_request.json'), callContext());
      assert.deepEqual(describeResponseProblems(res), []);
      assert.equal(res.cards.length, 1);
      assert.equal(res.cards[0]!.indicator, 'warning');
      assert.match(res.cards[0]!.summary, /Amoxicillin.*warfarin/);
    } finally {
      server.add({ ...active, status: 'stopped' });
    }
  });

  test('order_sign_hook_request.json: answered', async () => {
    const sign = services().find((s) => s.hook === 'order-sign')!;
    const res = await sign.handle(pointed('order_sign_hook_request.json'), callContext());
    assert.deepEqual(describeResponseProblems(res), []);
    assert.deepEqual(res, { cards: [] });
  });

  test('order_select_context.json (contained Medication, encounterId): answered', async () => {
    server.add({ resourceType: 'Patient', id: '1288992', gender: 'female', birthDate: '1970-01-01' });
    const select = services().find((s) => s.hook === 'order-select')!;
    const request: HookRequest = {
      hook: 'order-select',
      hookInstance: 'b0c8f0a2-5d0e-4a55-9d4e-2b0b8c1f7a10',
      fhirServer: server.base,
      fhirAuthorization: { access_token: 'SAMPLE_TOKEN', token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'cds-service' },
      context: read<Record<string, unknown>>('order_select_context.json'),
    };
    const res = await select.handle(request, callContext());
    assert.deepEqual(describeResponseProblems(res), []);
  });

  test('the fixture cards pass the card schema the service is checked against', () => {
    // One response each: the kit's cards share uuids across examples.
    for (const card of read<unknown[]>('valid_cards.json')) assert.deepEqual(describeResponseProblems({ cards: [normaliseResourceId(card)] }), []);
  });
});

// The kit's delete actions give resourceId as one string; CDS Hooks 2.0 has an array.
function normaliseResourceId(card: unknown): unknown {
  const c = card as { suggestions?: Array<{ actions?: Array<{ resourceId?: unknown }> }> };
  for (const s of c.suggestions ?? []) for (const a of s.actions ?? []) if (typeof a.resourceId === 'string') a.resourceId = [a.resourceId];
  return card;
}
