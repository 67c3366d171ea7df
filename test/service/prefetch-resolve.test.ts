import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Bundle, FhirResource } from 'fhir/r4';
import { classifyPrefetch } from '../../src/service/prefetch/classify.ts';
import { FhirFallback, headerLoggingEnabled } from '../../src/service/prefetch/fhir-fallback.ts';
import { keySpecs } from '../../src/service/prefetch/keys.ts';
import { resolvePrefetch } from '../../src/service/prefetch/resolve.ts';
import type { FallbackOutcome, HookMetrics, PrefetchSource } from '../../src/service/hooks/ports.ts';
import { FhirTestServer } from '../support/fhir-server.ts';
import { afibPatient, patientResources, searchset, selectRequest } from '../support/hooks-patients.ts';

const TOKEN = 'token-abc-123';

class RecordingMetrics implements HookMetrics {
  fallback: Array<{ type: string; outcome: FallbackOutcome }> = [];
  keys: Array<{ key: string; source: PrefetchSource }> = [];
  fallbackRequest(type: string, outcome: FallbackOutcome) {
    this.fallback.push({ type, outcome });
  }
  prefetchKey(key: string, source: PrefetchSource) {
    this.keys.push({ key, source });
  }
}

const resources = patientResources(afibPatient);
const other = patientResources({ id: 'pt-other', encounters: [{ id: 'enc-x', start: '2024-01-01T00:00:00Z', diagnoses: [['E11.9', 'Type 2 diabetes']] }] });
let server: FhirTestServer;

before(async () => {
  server = await new FhirTestServer(TOKEN).start();
  server.add(...resources, ...other);
  // Enough conditions to need several pages at _count=2.
  for (let i = 0; i < 7; i++) {
    server.add({ resourceType: 'Condition', id: `extra-${i}`, subject: { reference: 'Patient/pt-afib' }, code: { text: `extra ${i}` } });
  }
});
after(() => server.close());

function request(prefetch?: Record<string, FhirResource | null>, withServer = true) {
  return selectRequest(
    { patientId: 'pt-afib' },
    {
      ...(prefetch ? { prefetch } : {}),
      ...(withServer
        ? { fhirServer: server.base, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer' as const, expires_in: 300, scope: 'user/*.read', subject: 'svc' } }
        : {}),
    },
  );
}

describe('classifyPrefetch', () => {
  test('tells absent, null, OperationOutcome, paged Bundle, resource and junk apart', () => {
    const next: Bundle = { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: 'http://x/fhir/Condition?_page=1' }], entry: [] };
    const prefetch: Record<string, unknown> = {
      nul: null,
      oo: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', diagnostics: 'no access' }] },
      paged: next,
      res: resources[0],
      junk: 'Patient/1',
      badEntry: { resourceType: 'Bundle', entry: 3 },
    };
    assert.equal(classifyPrefetch(prefetch, 'missing').state, 'absent');
    assert.equal(classifyPrefetch(undefined, 'x').state, 'absent');
    assert.equal(classifyPrefetch(prefetch, 'nul').state, 'null');
    assert.deepEqual(classifyPrefetch(prefetch, 'oo'), { state: 'outcome', reason: 'no access' });
    assert.deepEqual(classifyPrefetch(prefetch, 'paged'), { state: 'bundle', resources: [], next: 'http://x/fhir/Condition?_page=1' });
    assert.equal(classifyPrefetch(prefetch, 'res').state, 'resource');
    assert.equal(classifyPrefetch(prefetch, 'junk').state, 'invalid');
    assert.equal(classifyPrefetch(prefetch, 'badEntry').state, 'invalid');
  });
});

describe('resolvePrefetch', () => {
  test('uses prefetch as sent and never calls the server when everything is there', async () => {
    const seen = server.requests.length;
    const of = (t: string) => resources.filter((r) => r.resourceType === t);
    const metrics = new RecordingMetrics();
    const out = await resolvePrefetch(
      request({ patient: of('Patient')[0]!, encounters: searchset(of('Encounter')), conditions: searchset(of('Condition')), procedures: searchset([]), medications: searchset(of('MedicationRequest')) }),
      'pt-afib',
      keySpecs({ patientId: 'pt-afib' }),
      { deadline: Date.now() + 2000, metrics },
    );
    assert.equal(server.requests.length, seen);
    for (const k of ['patient', 'encounters', 'conditions', 'procedures', 'medications'] as const) assert.equal(out.results[k]?.source, 'prefetch', k);
    assert.equal(out.resources.filter((r) => r.resourceType === 'Condition').length, 3);
    assert.deepEqual(metrics.fallback, []);
    assert.equal(metrics.keys.length, 5);
  });

  test('fetches absent, null and OperationOutcome keys from fhirServer with the bearer token', async () => {
    const seen = server.requests.length;
    const metrics = new RecordingMetrics();
    const out = await resolvePrefetch(
      request({ patient: null, conditions: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'timeout' }] } }),
      'pt-afib',
      keySpecs({ patientId: 'pt-afib' }),
      { deadline: Date.now() + 2000, metrics, pageSize: 2 },
    );
    for (const k of ['patient', 'encounters', 'conditions', 'procedures', 'medications'] as const) assert.equal(out.results[k]?.source, 'fetched', k);
    // 3 own conditions + 7 extra, over 5 pages of 2, none of the other patient's.
    assert.equal(out.results.conditions?.resources.length, 10);
    assert.ok(out.resources.every((r) => r.resourceType !== 'Condition' || (r as { subject?: { reference?: string } }).subject?.reference === 'Patient/pt-afib'));
    const mine = server.requests.slice(seen);
    assert.ok(mine.length >= 9);
    assert.ok(mine.every((r) => r.authorization === `Bearer ${TOKEN}`));
    assert.ok(metrics.fallback.every((f) => f.outcome === 'ok'));
  });

  test('follows the next link of a paged prefetch Bundle, and stops at the page bound', async () => {
    const first: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [{ resource: resources.find((r) => r.resourceType === 'Condition')! }],
      link: [{ relation: 'next', url: `${server.base}/Condition?patient=pt-afib&_count=2&_page=1` }],
    };
    const full = await resolvePrefetch(request({ conditions: first }), 'pt-afib', keySpecs({ patientId: 'pt-afib' }).filter((s) => s.key === 'conditions'), {
      deadline: Date.now() + 2000,
    });
    assert.equal(full.results.conditions?.source, 'fetched');
    assert.equal(full.results.conditions?.resources.length, 1 + 8);
    const bounded = await resolvePrefetch(request({ conditions: first }), 'pt-afib', keySpecs({ patientId: 'pt-afib' }).filter((s) => s.key === 'conditions'), {
      deadline: Date.now() + 2000,
      maxPages: 2,
    });
    assert.equal(bounded.results.conditions?.source, 'failed');
    assert.equal(bounded.results.conditions?.failure, 'partial');
  });

  test('refuses to send the token to a next link on another server', async () => {
    const first: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [], link: [{ relation: 'next', url: 'http://198.51.100.7/fhir/Condition?_page=1' }] };
    const seen = server.requests.length;
    const out = await resolvePrefetch(request({ conditions: first }), 'pt-afib', keySpecs({ patientId: 'pt-afib' }).filter((s) => s.key === 'conditions'), {
      deadline: Date.now() + 2000,
    });
    assert.equal(out.results.conditions?.source, 'failed');
    assert.match(out.results.conditions?.note ?? '', /outside fhirServer/);
    assert.equal(server.requests.length, seen);
  });

  test('drops resources of another patient found in prefetch', async () => {
    const mixed = searchset([...resources, ...other].filter((r) => r.resourceType === 'Condition'));
    const out = await resolvePrefetch(request({ conditions: mixed }, false), 'pt-afib', keySpecs({ patientId: 'pt-afib' }).filter((s) => s.key === 'conditions'), {
      deadline: Date.now() + 2000,
    });
    assert.equal(out.results.conditions?.resources.length, 3);
    assert.match(out.results.conditions?.note ?? '', /another patient/);
  });

  test('a medicationReference that is not a string reference is counted in a note, not a crash', async () => {
    const order = (id: string, medicationReference: unknown) =>
      ({ resourceType: 'MedicationRequest', id, status: 'active', intent: 'order', subject: { reference: 'Patient/pt-afib' }, medicationReference }) as unknown as FhirResource;
    const medications = searchset([
      order('mr-number', { reference: 42 }),
      order('mr-object', { reference: { id: 'med-1' } }),
      order('mr-bare', 'Medication/med-2'),
      order('mr-display', { display: 'a drug named only' }),
      order('mr-good', { reference: 'Medication/med-3' }),
    ]);
    const out = await resolvePrefetch(request({ medications }, false), 'pt-afib', keySpecs({ patientId: 'pt-afib' }).filter((s) => s.key === 'medications'), {
      deadline: Date.now() + 2000,
    });
    assert.equal(out.results.medications?.resources.length, 5, 'the orders themselves are kept');
    assert.ok(out.notes.some((n) => /^3 MedicationRequest\(s\) with a malformed medicationReference/.test(n)), out.notes.join(' | '));
    assert.ok(out.notes.some((n) => /^1 referenced Medication\(s\) not sent/.test(n)), 'the good reference is still followed');
  });

  test('a missing key without fhirServer fails; null means no data', async () => {
    const out = await resolvePrefetch(request({ procedures: null }, false), 'pt-afib', keySpecs({ patientId: 'pt-afib' }), { deadline: Date.now() + 2000 });
    assert.equal(out.results.patient?.source, 'failed');
    assert.equal(out.results.patient?.failure, 'missing');
    assert.equal(out.results.procedures?.source, 'prefetch');
    assert.deepEqual(out.results.procedures?.resources, []);
  });

  test('HTTP 500 and a wrong token are typed failures, not exceptions', async () => {
    server.failure = { kind: 'status', status: 500 };
    try {
      const out = await resolvePrefetch(request(), 'pt-afib', keySpecs({ patientId: 'pt-afib' }), { deadline: Date.now() + 2000 });
      assert.equal(out.results.patient?.failure, 'http-error');
      assert.match(out.results.patient?.note ?? '', /HTTP 500/);
    } finally {
      server.failure = { kind: 'none' };
    }
    const wrong = selectRequest(
      { patientId: 'pt-afib' },
      { fhirServer: server.base, fhirAuthorization: { access_token: 'wrong', token_type: 'Bearer', expires_in: 300, scope: 'x', subject: 's' } },
    );
    const out = await resolvePrefetch(wrong, 'pt-afib', keySpecs({ patientId: 'pt-afib' }), { deadline: Date.now() + 2000 });
    assert.equal(out.results.patient?.failure, 'http-error');
    assert.match(out.results.patient?.note ?? '', /HTTP 401/);
    assert.doesNotMatch(JSON.stringify(out), /wrong|token-abc/);
  });

  test('a slow server is cut at the deadline', async () => {
    server.failure = { kind: 'delay', ms: 1500 };
    const metrics = new RecordingMetrics();
    try {
      const started = Date.now();
      const out = await resolvePrefetch(request(), 'pt-afib', keySpecs({ patientId: 'pt-afib' }), { deadline: Date.now() + 150, metrics });
      const took = Date.now() - started;
      assert.ok(took < 600, `took ${took} ms`);
      assert.equal(out.results.patient?.failure, 'timeout');
      assert.ok(metrics.fallback.some((f) => f.outcome === 'timeout'));
    } finally {
      server.failure = { kind: 'none' };
    }
  });

  test('an unreachable server is a network failure', async () => {
    const dead = selectRequest({ patientId: 'pt-afib' }, { fhirServer: 'http://127.0.0.1:9/fhir' });
    const out = await resolvePrefetch(dead, 'pt-afib', keySpecs({ patientId: 'pt-afib' }).slice(0, 1), { deadline: Date.now() + 2000 });
    assert.equal(out.results.patient?.failure, 'network-error');
  });
});

describe('token safety', () => {
  test('DEBUG patterns that would make fhir-kit-client print headers are detected', () => {
    assert.equal(headerLoggingEnabled(undefined), false);
    assert.equal(headerLoggingEnabled('express:*'), false);
    assert.equal(headerLoggingEnabled('*'), true);
    assert.equal(headerLoggingEnabled('fhir-kit-client:*'), true);
    assert.equal(headerLoggingEnabled('fhir-kit-client:*,-fhir-kit-client:info'), false);
  });

  test('with header logging on, the fallback refuses to send the token', async () => {
    const saved = process.env.DEBUG;
    process.env.DEBUG = 'fhir-kit-client:*';
    try {
      const fallback = new FhirFallback({ baseUrl: server.base, accessToken: TOKEN, deadline: Date.now() + 1000 });
      const seen = server.requests.length;
      await assert.rejects(fallback.read('Patient', 'pt-afib'), (err: Error & { outcome?: string }) => err.outcome === 'refused');
      assert.equal(server.requests.length, seen);
      fallback.close();
    } finally {
      if (saved === undefined) delete process.env.DEBUG;
      else process.env.DEBUG = saved;
    }
  });
});
