// The HTTP edge on the real express app, through supertest: routes, errors as OperationOutcome, CORS,
// request ids, readiness, time budget, response checking, and logs free of tokens and patient data.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, after } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import type { CdsService } from '../../src/service/contracts.ts';
import { CardSchema, CdsResponseSchema, describeResponseProblems } from '../../src/service/cards-schema.ts';
import { projectRoot } from '../../src/service/config.ts';
import { ACCESS_TOKEN, buildTestApp, echoService, orderSelectRequest, orderSignRequest } from './http-fixture.ts';

function assertOutcome(body: unknown, code?: string): void {
  const outcome = body as { resourceType?: string; issue?: Array<{ severity?: string; code?: string; diagnostics?: string }> };
  assert.equal(outcome.resourceType, 'OperationOutcome', JSON.stringify(body));
  assert.ok(Array.isArray(outcome.issue) && outcome.issue.length > 0);
  assert.ok(outcome.issue[0]!.severity);
  if (code) assert.equal(outcome.issue[0]!.code, code);
}

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const SHARED = path.resolve(projectRoot, '../shared/fixtures/cds-hooks');

describe('the public CRD test kit requests (../shared/fixtures/cds-hooks)', { skip: existsSync(SHARED) ? false : `skipped: ${SHARED} is absent` }, () => {
  it('passes the edge envelope and shape checks and reaches the handler', async () => {
    const t = buildTestApp();
    for (const [file, id] of [['order_select_hook_request.json', 'echo-select'], ['order_sign_hook_request.json', 'echo-sign']] as const) {
      const body = JSON.parse(readFileSync(path.join(SHARED, file), 'utf8')) as Record<string, unknown>;
      // The kit's requests carry no prefetch and point at an unreachable FHIR server: the echo handler answers 412.
      const res = await request(t.app).post(`/cds-services/${id}`).send(body);
      assert.ok([200, 412].includes(res.status), `${file}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
});

describe('discovery', () => {
  it('lists each service with hook, id, description, title and prefetch, omitting empty fields', async () => {
    const t = buildTestApp();
    const res = await request(t.app).get('/cds-services').expect(200);
    assert.deepEqual(
      res.body.services.map((s: { id: string; hook: string }) => [s.id, s.hook]),
      [
        ['echo-select', 'order-select'],
        ['echo-sign', 'order-sign'],
      ],
    );
    for (const s of res.body.services) {
      assert.equal(typeof s.description, 'string');
      assert.deepEqual(s.prefetch, { patient: 'Patient/{{context.patientId}}' });
      assert.equal('usageRequirements' in s, false);
    }
  });
});

describe('hook calls', () => {
  it('answers a valid order-select with cards that pass the spec schema', async () => {
    const t = buildTestApp();
    const res = await request(t.app).post('/cds-services/echo-select').send(orderSelectRequest()).expect(200);
    assert.match(res.headers['content-type']!, /application\/json/);
    assert.deepEqual(describeResponseProblems(res.body), []);
    assert.equal(res.body.cards.length, 1);
    assert.equal(res.body.cards[0].summary, 'Echo for Testperson: 1 selected');
  });

  it('answers a valid order-sign', async () => {
    const t = buildTestApp();
    const res = await request(t.app).post('/cds-services/echo-sign').send(orderSignRequest()).expect(200);
    assert.ok(CdsResponseSchema.safeParse(res.body).success);
    assert.equal(res.body.cards[0].summary, 'Echo for Testperson: 0 selected');
  });

  it('refuses the wrong hook for the service with 400 naming hook', async () => {
    const t = buildTestApp();
    const res = await request(t.app).post('/cds-services/echo-sign').send(orderSelectRequest()).expect(400);
    assertOutcome(res.body, 'invalid');
    assert.deepEqual(res.body.issue[0].expression, ['hook']);
  });

  const envelopeCases: Array<[string, (r: Record<string, unknown>) => void, string]> = [
    ['missing hookInstance', (r) => delete r.hookInstance, 'hookInstance'],
    ['hookInstance not a UUID', (r) => (r.hookInstance = 'abc'), 'hookInstance'],
    ['context missing', (r) => delete r.context, 'context'],
    ['context an array', (r) => (r.context = []), 'context'],
    ['fhirAuthorization without fhirServer', (r) => (r.fhirAuthorization = { access_token: 'x', token_type: 'Bearer', expires_in: 60, scope: 's', subject: 'c' }), 'fhirServer'],
    ['fhirServer not a URL', (r) => (r.fhirServer = 'not a url'), 'fhirServer'],
    ['prefetch value not a resource', (r) => ((r.prefetch as Record<string, unknown>).patient = 42), 'prefetch.patient'],
    ['token_type not Bearer', (r) => ((r.fhirServer = 'https://x.example/r4'), (r.fhirAuthorization = { access_token: 'x', token_type: 'MAC', expires_in: 60, scope: 's', subject: 'c' })), 'fhirAuthorization.token_type'],
  ];
  for (const [name, mutate, expression] of envelopeCases)
    it(`400 for ${name}`, async () => {
      const t = buildTestApp();
      const body = orderSelectRequest();
      mutate(body);
      const res = await request(t.app).post('/cds-services/echo-select').send(body).expect(400);
      assertOutcome(res.body, 'invalid');
      assert.ok(res.body.issue[0].expression.includes(expression), JSON.stringify(res.body));
    });

  type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test mutations reach into arbitrary JSON
  const draftOf = (r: Record<string, unknown>): Loose => (r.context as Loose).draftOrders.entry[0].resource;
  const shapeCases: Array<[string, (r: Record<string, unknown>) => void, string]> = [
    ['a reference that is a number', (r) => void (draftOf(r).subject = { reference: 42 }), 'context.draftOrders.entry[0].resource.subject.reference'],
    ['a coding code that is an object', (r) => void (draftOf(r).medicationCodeableConcept.coding[0].code = {}), 'context.draftOrders.entry[0].resource.medicationCodeableConcept.coding[0].code'],
    ['Bundle.entry not an array', (r) => void ((r.prefetch as Loose).conditions.entry = { resource: {} }), 'prefetch.conditions.entry'],
    ['an entry resource without resourceType', (r) => void ((r.prefetch as Loose).conditions.entry = [{ resource: { id: 'c1' } }]), 'prefetch.conditions.entry[0].resource'],
    ['nesting 100 levels deep', (r) => {
      let deep: unknown = 'bottom';
      for (let i = 0; i < 100; i++) deep = [deep];
      (r.context as Record<string, unknown>).extension = deep;
    }, 'context.extension'],
  ];
  for (const [name, mutate, expression] of shapeCases)
    it(`400 naming the element for ${name}`, async () => {
      const t = buildTestApp();
      const body = orderSelectRequest();
      mutate(body);
      const res = await request(t.app).post('/cds-services/echo-select').send(body).expect(400);
      assertOutcome(res.body, 'invalid');
      assert.ok(res.body.issue[0].expression[0].startsWith(expression), JSON.stringify(res.body.issue[0]));
    });

  const contextCases: Array<[string, (c: Record<string, unknown>) => void]> = [
    ['missing patientId', (c) => delete c.patientId],
    ['draftOrders not a Bundle', (c) => (c.draftOrders = { resourceType: 'Patient' })],
    ['selections pointing nowhere', (c) => (c.selections = ['MedicationRequest/nope'])],
  ];
  for (const [name, mutate] of contextCases)
    it(`400 from the handler for ${name}, as an OperationOutcome`, async () => {
      const t = buildTestApp();
      const body = orderSelectRequest();
      mutate(body.context as Record<string, unknown>);
      const res = await request(t.app).post('/cds-services/echo-select').send(body).expect(400);
      assertOutcome(res.body, 'invalid');
      assert.match(res.body.issue[0].expression[0], /^context\./);
    });

  it('400 for malformed JSON, 415 for another content type, 400 for no body, 413 for a huge body', async () => {
    const t = buildTestApp({ config: { server: { bodyLimit: '16kb' } } });
    const bad = await request(t.app).post('/cds-services/echo-select').set('Content-Type', 'application/json').send('{"hook": "order-select",').expect(400);
    assertOutcome(bad.body, 'invalid');
    const text = await request(t.app).post('/cds-services/echo-select').set('Content-Type', 'text/plain').send('hello').expect(415);
    assertOutcome(text.body, 'not-supported');
    const none = await request(t.app).post('/cds-services/echo-select').expect(400);
    assertOutcome(none.body, 'invalid');
    const big = orderSelectRequest();
    (big.context as Record<string, unknown>).padding = 'x'.repeat(64 * 1024);
    const huge = await request(t.app).post('/cds-services/echo-select').send(big).expect(413);
    assertOutcome(huge.body, 'too-costly');
    const scalar = await request(t.app).post('/cds-services/echo-select').set('Content-Type', 'application/json').send('"just a string"').expect(400);
    assertOutcome(scalar.body, 'invalid');
  });

  it('400 for nesting far deeper than JSON parsing allows', async () => {
    const t = buildTestApp();
    const text = `{"hook":"order-select","context":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const res = await request(t.app).post('/cds-services/echo-select').set('Content-Type', 'application/json').send(text).expect(400);
    assertOutcome(res.body, 'invalid');
  });

  it('404 for an unknown service or route, 405 for a wrong method', async () => {
    const t = buildTestApp();
    assertOutcome((await request(t.app).post('/cds-services/nope').send(orderSelectRequest()).expect(404)).body, 'not-found');
    assertOutcome((await request(t.app).get('/nowhere').expect(404)).body, 'not-found');
    const res = await request(t.app).get('/cds-services/echo-select').expect(405);
    assertOutcome(res.body, 'not-supported');
    assert.equal(res.headers.allow, 'POST');
    await request(t.app).delete('/cds-services').expect(405);
  });

  it('503 with Retry-After until the model is loaded; /readyz follows', async () => {
    const t = buildTestApp({ ready: false });
    await request(t.app).get('/healthz').expect(200);
    const notReady = await request(t.app).get('/readyz').expect(503);
    assertOutcome(notReady.body, 'transient');
    const call = await request(t.app).post('/cds-services/echo-select').send(orderSelectRequest()).expect(503);
    assert.equal(call.headers['retry-after'], '1');
    assertOutcome(call.body, 'transient');
    t.readiness.markReady('model');
    await request(t.app).get('/readyz').expect(200);
    await request(t.app).post('/cds-services/echo-select').send(orderSelectRequest()).expect(200);
  });

  it('answers an unexpected handler failure with 500 and no internals, and logs it with the request id', async () => {
    const broken: CdsService = {
      id: 'broken',
      hook: 'order-select',
      description: 'throws',
      async handle() {
        throw new TypeError('secret internal detail at line 42');
      },
    };
    const t = buildTestApp({ services: [broken] });
    const res = await request(t.app).post('/cds-services/broken').set('x-request-id', 'req-abc-123').send(orderSelectRequest()).expect(500);
    assertOutcome(res.body, 'exception');
    assert.doesNotMatch(JSON.stringify(res.body), /secret internal/);
    assert.match(res.body.issue[0].diagnostics, /req-abc-123/);
    assert.ok(t.logs.some((l) => l.includes('secret internal detail') && l.includes('req-abc-123')));
  });

  it('drops cards that break the spec schema and keeps the valid ones', async () => {
    const sloppy: CdsService = {
      id: 'sloppy',
      hook: 'order-select',
      description: 'returns one good and two bad cards',
      async handle() {
        return {
          cards: [
            { summary: 'fine', indicator: 'info', source: { label: 'x' } },
            { summary: 'y'.repeat(200), indicator: 'info', source: { label: 'x' } },
            { summary: 'suggests without selectionBehavior', indicator: 'warning', source: { label: 'x' }, suggestions: [{ label: 's' }] },
          ],
        };
      },
    };
    const t = buildTestApp({ services: [sloppy] });
    const res = await request(t.app).post('/cds-services/sloppy').send(orderSelectRequest()).expect(200);
    assert.deepEqual(res.body.cards.map((c: { summary: string }) => c.summary), ['fine']);
    const metrics = await t.metrics.registry.getSingleMetricAsString('leader_cds_invalid_cards_dropped_total');
    assert.match(metrics, /service="sloppy"} 2/);
  });
});

describe('time budget and FHIR fallback', () => {
  const fhir = express();
  let hang = false;
  let fail = false;
  const seenAuth: string[] = [];
  fhir.get('/r4/Patient/:id', (req, res) => {
    seenAuth.push(String(req.headers.authorization));
    if (hang) return; // never answers
    if (fail) {
      res.status(500).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] });
      return;
    }
    res.json({ resourceType: 'Patient', id: req.params.id, name: [{ family: 'Fetched' }] });
  });
  let fhirServer: Server;
  let fhirUrl = '';
  after(() => {
    fhirServer?.closeAllConnections();
    fhirServer?.close();
  });

  function withFallback(): Record<string, unknown> {
    const body = orderSelectRequest();
    delete (body.prefetch as Record<string, unknown>).patient;
    body.fhirServer = `${fhirUrl}/r4`;
    body.fhirAuthorization = { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/Patient.read', subject: 'cds' };
    return body;
  }

  it('reads missing prefetch from the FHIR server with the bearer token', async () => {
    ({ server: fhirServer, url: fhirUrl } = await listen(fhir));
    hang = false;
    fail = false;
    const t = buildTestApp();
    const res = await request(t.app).post('/cds-services/echo-select').send(withFallback()).expect(200);
    assert.equal(res.body.cards[0].summary, 'Echo for Fetched: 1 selected');
    assert.equal(seenAuth.at(-1), `Bearer ${ACCESS_TOKEN}`);
    assert.ok(!t.logs.join('').includes(ACCESS_TOKEN), 'the FHIR access token must never be logged');
  });

  it('answers 412 when the FHIR server answers 500', async () => {
    fail = true;
    hang = false;
    const t = buildTestApp();
    const res = await request(t.app).post('/cds-services/echo-select').send(withFallback()).expect(412);
    assertOutcome(res.body, 'incomplete');
  });

  it('answers within the budget when the FHIR server hangs', async () => {
    hang = true;
    fail = false;
    const t = buildTestApp({ config: { server: { timeBudgetMs: 150 } } });
    const started = Date.now();
    const res = await request(t.app).post('/cds-services/echo-select').send(withFallback());
    const elapsed = Date.now() - started;
    assert.ok(res.status === 412 || res.status === 503, `status ${res.status}`);
    assertOutcome(res.body);
    assert.ok(elapsed < 150 + 100, `answered after ${elapsed} ms`);
  });

  it('cuts a handler that ignores its deadline at the hard budget with 503 timeout and aborts its signal', async () => {
    let aborted = false;
    const stubborn: CdsService = {
      id: 'stubborn',
      hook: 'order-select',
      description: 'waits far past its deadline',
      handle(_r, call) {
        call.signal.addEventListener('abort', () => (aborted = true));
        return new Promise((resolve) => setTimeout(() => resolve({ cards: [] }), 1000));
      },
    };
    const t = buildTestApp({ services: [stubborn], config: { server: { timeBudgetMs: 100 } } });
    const started = Date.now();
    const res = await request(t.app).post('/cds-services/stubborn').send(orderSelectRequest()).expect(503);
    assert.ok(Date.now() - started < 300);
    assertOutcome(res.body, 'timeout');
    assert.equal(res.headers['retry-after'], '1');
    assert.ok(aborted);
  });
});

describe('CORS, request ids, logs and metrics', () => {
  it('answers a preflight from an allowed origin with the allowed headers', async () => {
    const t = buildTestApp({ config: { cors: { origins: ['https://ehr.example.org'] } } });
    const res = await request(t.app)
      .options('/cds-services/echo-select')
      .set('Origin', 'https://ehr.example.org')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type')
      .expect(204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://ehr.example.org');
    assert.match(res.headers['access-control-allow-headers']!, /Authorization/);
    assert.match(res.headers['access-control-allow-headers']!, /Content-Type/);
    assert.match(res.headers['access-control-allow-methods']!, /POST/);
    const call = await request(t.app).post('/cds-services/echo-select').set('Origin', 'https://ehr.example.org').send(orderSelectRequest()).expect(200);
    assert.equal(call.headers['access-control-allow-origin'], 'https://ehr.example.org');
  });

  it('gives no CORS grant to an origin off the allow-list', async () => {
    const t = buildTestApp({ config: { cors: { origins: ['https://ehr.example.org'] } } });
    const res = await request(t.app)
      .options('/cds-services/echo-select')
      .set('Origin', 'https://evil.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .expect(403);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assertOutcome(res.body, 'forbidden');
  });

  it('honours a sane x-request-id, replaces a bad one', async () => {
    const t = buildTestApp();
    const same = await request(t.app).get('/cds-services').set('x-request-id', 'trace-42').expect(200);
    assert.equal(same.headers['x-request-id'], 'trace-42');
    const replaced = await request(t.app).get('/cds-services').set('x-request-id', 'bad id with spaces').expect(200);
    assert.match(replaced.headers['x-request-id']!, /^[0-9a-f-]{36}$/);
    assert.ok(t.logs.some((l) => l.includes('"trace-42"')));
  });

  it('never logs the Authorization header, the FHIR token, the body or patient identifiers', async () => {
    const t = buildTestApp();
    const body = orderSelectRequest();
    body.fhirServer = 'https://fhir.example.org/r4';
    body.fhirAuthorization = { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 300, scope: 's', subject: 'cds' };
    (body.context as Record<string, unknown>).patientId = 'patient-XYZZY-991';
    ((body.prefetch as Record<string, { id: string }>).patient!).id = 'patient-XYZZY-991';
    await request(t.app).post('/cds-services/echo-select').set('Authorization', 'Bearer eyJhbGciOi.SECRETJWT.sig').send(body).expect(200);
    const bad = { ...body, hookInstance: 'nope' };
    await request(t.app).post('/cds-services/echo-select').set('Authorization', 'Bearer eyJhbGciOi.SECRETJWT.sig').send(bad).expect(400);
    const all = t.logs.join('\n');
    assert.ok(t.logs.length >= 2, 'requests were logged');
    for (const secret of [ACCESS_TOKEN, 'SECRETJWT', 'patient-XYZZY-991', 'Testperson']) assert.ok(!all.includes(secret), `log contains ${secret}`);
  });

  it('exposes request, latency and card metrics in Prometheus format', async () => {
    const t = buildTestApp();
    await request(t.app).post('/cds-services/echo-select').send(orderSelectRequest()).expect(200);
    await request(t.app).post('/cds-services/echo-select').send({}).expect(400);
    const res = await request(t.app).get('/metrics').expect(200);
    assert.match(res.text, /leader_cds_http_requests_total\{route="\/cds-services\/:id",method="POST",status="200"\} 1/);
    assert.match(res.text, /leader_cds_http_requests_total\{route="\/cds-services\/:id",method="POST",status="400"\} 1/);
    assert.match(res.text, /leader_cds_hook_duration_seconds_count\{hook="order-select",service="echo-select",status="2xx"\} 1/);
    assert.match(res.text, /leader_cds_cards_returned_total\{service="echo-select"\} 1/);
  });
});

describe('card schema', () => {
  it('accepts the CRD test kit valid cards (../shared) and refuses the classic mistakes', { skip: existsSync(SHARED) ? false : `skipped: ${SHARED} is absent` }, () => {
    const cards = JSON.parse(readFileSync(path.join(SHARED, 'valid_cards.json'), 'utf8')) as unknown[];
    for (const [i, card] of cards.entries()) assert.ok(CardSchema.safeParse(card).success, `card ${i}: ${JSON.stringify(CardSchema.safeParse(card).error?.issues)}`);
  });

  it('refuses an over-long summary, hard-stop, suggestions without selectionBehavior, null optionals, appContext on absolute links', () => {
    const base = { summary: 'ok', indicator: 'info', source: { label: 'x' } };
    assert.ok(CardSchema.safeParse(base).success);
    for (const bad of [
      { ...base, summary: 's'.repeat(140) },
      { ...base, indicator: 'hard-stop' },
      { ...base, suggestions: [{ label: 'a' }] },
      { ...base, detail: null },
      { ...base, links: [{ label: 'l', url: 'https://x.example', type: 'absolute', appContext: 'c' }] },
      { ...base, selectionBehavior: 'any', suggestions: [{ label: 'a', actions: [{ type: 'create', description: 'no resource' }] }] },
      { ...base, source: {} },
    ])
      assert.equal(CardSchema.safeParse(bad).success, false, JSON.stringify(bad));
  });
});
