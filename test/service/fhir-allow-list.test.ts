import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/service/config.ts';
import { ServiceError } from '../../src/service/contracts.ts';
import { createHookServices } from '../../src/service/hooks/services.ts';
import { fhirServerPolicy } from '../../src/service/wiring.ts';
import { FhirTestServer } from '../support/fhir-server.ts';
import { fixtureHistory } from '../support/hooks-history.ts';
import { testMapping } from '../support/hooks-mapping.ts';
import { FixtureModel } from '../support/hooks-model.ts';
import { afibPatient, callContext, draftOrder, drafts, fullPrefetch, patientResources, selectRequest } from '../support/hooks-patients.ts';

const TOKEN = 'allow-list-token';
const resources = patientResources(afibPatient);
let server: FhirTestServer;
before(async () => {
  server = await new FhirTestServer(TOKEN).start();
  server.add(...resources);
});
after(() => server.close());

const auth = { access_token: TOKEN, token_type: 'Bearer' as const, expires_in: 300, scope: 'user/*.read', subject: 'svc' };
const draft = draftOrder('draft-1', '11289', 'warfarin sodium 5 MG Oral Tablet', 'pt-afib', 'enc-2');
const context = () => ({ userId: 'Practitioner/1', patientId: 'pt-afib', encounterId: 'enc-2', selections: ['MedicationRequest/draft-1'], draftOrders: drafts(draft) });

function select(allowed: string[]) {
  const services = createHookServices({ model: new FixtureModel(), mapping: testMapping(), history: fixtureHistory, fhirServerAllowed: fhirServerPolicy(allowed) });
  return services.find((s) => s.hook === 'order-select')!;
}

describe('fhir.allowedServers', () => {
  it('matches base URLs as URLs: scheme and host case, default port and trailing slash do not matter; user info and other paths do', () => {
    const allowed = fhirServerPolicy(['https://FHIR.example.org/r4/', 'http://127.0.0.1:8080/fhir']);
    assert.equal(allowed('https://fhir.example.org/r4'), true);
    assert.equal(allowed('https://fhir.example.org:443/r4/'), true);
    assert.equal(allowed('HTTPS://fhir.example.org/r4'), true);
    assert.equal(allowed('http://127.0.0.1:8080/fhir/'), true);
    assert.equal(allowed('https://fhir.example.org/r4/other'), false);
    assert.equal(allowed('https://fhir.example.org'), false);
    assert.equal(allowed('https://fhir.example.org.evil.test/r4'), false);
    assert.equal(allowed('https://user:pw@fhir.example.org/r4'), false);
    assert.equal(allowed('http://fhir.example.org/r4'), false);
    assert.equal(allowed('not a url'), false);
  });

  it('a listed server gets the token and fills the missing prefetch', async () => {
    const seen = server.requests.length;
    const res = await select([server.base]).handle(selectRequest(context(), { fhirServer: server.base, fhirAuthorization: auth }), callContext());
    assert.ok(Array.isArray(res.cards));
    const calls = server.requests.slice(seen);
    assert.ok(calls.length > 0);
    assert.ok(calls.every((r) => r.authorization === `Bearer ${TOKEN}`));
  });

  it('an unlisted server never receives the token: the call is served from prefetch, or refused with 412 naming the allow-list', async () => {
    const seen = server.requests.length;
    const handler = select(['https://fhir.example.org/r4']);
    const full = await handler.handle(selectRequest(context(), { prefetch: fullPrefetch(resources, 'pt-afib', 'enc-2'), fhirServer: server.base, fhirAuthorization: auth }), callContext());
    assert.ok(Array.isArray(full.cards));
    await assert.rejects(
      handler.handle(selectRequest(context(), { fhirServer: server.base, fhirAuthorization: auth }), callContext()),
      (e: unknown) => e instanceof ServiceError && e.kind === 'precondition-failed' && /allow-list \(fhir\.allowedServers\)/.test(e.message),
    );
    assert.equal(server.requests.length, seen, 'no request reached the unlisted server');
  });

  it('is configured as a list of http(s) URLs, from the file or LEADER_CDS_FHIR_ALLOWED_SERVERS', () => {
    assert.equal(loadConfig({ env: {} }).fhir.allowedServers, undefined);
    assert.deepEqual(loadConfig({ env: { LEADER_CDS_FHIR_ALLOWED_SERVERS: 'https://a.example/fhir, https://b.example/r4' } }).fhir.allowedServers, [
      'https://a.example/fhir',
      'https://b.example/r4',
    ]);
    assert.throws(() => loadConfig({ env: { LEADER_CDS_FHIR_ALLOWED_SERVERS: 'ftp://a.example/fhir' } }), (e: unknown) => e instanceof ConfigError && /LEADER_CDS_FHIR_ALLOWED_SERVERS.*fhir\.allowedServers\.0/s.test(e.message));
    assert.throws(() => loadConfig({ env: { LEADER_CDS_FHIR_ALLOWED_SERVERS: 'fhir.example' } }), (e: unknown) => e instanceof ConfigError && /fhir\.allowedServers/.test(e.message));
  });
});

describe('server.workers', () => {
  it('defaults to 1 and takes 1-64 from the file or LEADER_CDS_WORKERS, naming the source of a bad value', () => {
    assert.equal(loadConfig({ env: {} }).server.workers, 1);
    assert.equal(loadConfig({ env: { LEADER_CDS_WORKERS: '2' } }).server.workers, 2);
    for (const bad of ['0', '65', 'two'])
      assert.throws(() => loadConfig({ env: { LEADER_CDS_WORKERS: bad } }), (e: unknown) => e instanceof ConfigError && /LEADER_CDS_WORKERS/.test(e.message), bad);
  });
});
