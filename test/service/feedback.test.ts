// Feedback: the spec's body, idempotent storage in SQLite, acceptance rate per model version and label,
// over HTTP and through the `feedback summary` command.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import request from 'supertest';
import { projectRoot } from '../../src/service/config.ts';
import { parseFeedback } from '../../src/service/feedback/schema.ts';
import { FeedbackStore } from '../../src/service/feedback/store.ts';
import { ServiceError } from '../../src/service/contracts.ts';
import { buildTestApp } from './http-fixture.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'leader-cds-feedback-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ts = '2026-11-27T10:00:00Z';

describe('feedback schema', () => {
  it('accepts the spec example shapes', () => {
    const items = parseFeedback({
      feedback: [
        { card: 'c1', outcome: 'accepted', acceptedSuggestions: [{ id: 's1' }], outcomeTimestamp: ts },
        { card: 'c2', outcome: 'overridden', overrideReason: { reason: { code: 'x', system: 'http://e.org', display: 'X' }, userComment: 'no' }, outcomeTimestamp: '2026-11-27T10:00:00.123+01:00' },
        { card: 'c3', outcome: 'overridden', outcomeTimestamp: ts },
      ],
    });
    assert.equal(items.length, 3);
  });

  const bad: Array<[string, unknown]> = [
    ['no feedback array', {}],
    ['empty feedback', { feedback: [] }],
    ['accepted without acceptedSuggestions', { feedback: [{ card: 'c', outcome: 'accepted', outcomeTimestamp: ts }] }],
    ['unknown outcome', { feedback: [{ card: 'c', outcome: 'ignored', outcomeTimestamp: ts }] }],
    ['overrideReason on accepted', { feedback: [{ card: 'c', outcome: 'accepted', acceptedSuggestions: [{ id: 's' }], overrideReason: {}, outcomeTimestamp: ts }] }],
    ['timestamp without zone', { feedback: [{ card: 'c', outcome: 'overridden', outcomeTimestamp: '2026-11-27T10:00:00' }] }],
    ['impossible timestamp', { feedback: [{ card: 'c', outcome: 'overridden', outcomeTimestamp: '2026-13-45T10:00:00Z' }] }],
    ['card missing', { feedback: [{ outcome: 'overridden', outcomeTimestamp: ts }] }],
  ];
  for (const [name, body] of bad)
    it(`refuses ${name}`, () => {
      assert.throws(() => parseFeedback(body), (e: unknown) => e instanceof ServiceError && e.kind === 'invalid');
    });
});

describe('feedback store', () => {
  it('creates its folder, uses WAL, and stores the same feedback once', () => {
    const file = path.join(dir, 'nested', 'deeper', 'fb.sqlite');
    const store = new FeedbackStore(file);
    assert.ok(existsSync(file));
    const items = parseFeedback({ feedback: [{ card: 'c1', outcome: 'accepted', acceptedSuggestions: [{ id: 's1' }, { id: 's2' }], outcomeTimestamp: ts }] });
    assert.deepEqual(store.storeFeedback('svc', items), { stored: 2, duplicates: 0, storedByOutcome: { accepted: 2, overridden: 0 } });
    assert.deepEqual(store.storeFeedback('svc', items), { stored: 0, duplicates: 2, storedByOutcome: { accepted: 0, overridden: 0 } });
    store.close();
    const raw = new Database(file, { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
  });

  it('writes the issued cards of one event-loop turn in one transaction, before any read, and at close', async () => {
    const file = path.join(dir, 'batched.sqlite');
    const store = new FeedbackStore(file);
    const count = (): number => {
      const raw = new Database(file, { readonly: true });
      try {
        return (raw.prepare('SELECT COUNT(*) AS n FROM issued_cards').get() as { n: number }).n;
      } finally {
        raw.close();
      }
    };
    for (let i = 0; i < 3; i++) store.recordIssuedCards([{ service: 'svc', cardUuid: `c${i}`, modelVersion: 'v1', label: 'A02B' }]);
    assert.equal(count(), 0, 'not written yet within the turn');
    await new Promise((r) => setImmediate(r));
    assert.equal(count(), 3);
    store.recordIssuedCards([{ service: 'svc', cardUuid: 'c3', modelVersion: 'v1', label: 'A02B' }]);
    assert.equal(store.summary().rows[0]?.issued, 4, 'a read sees what was recorded just before');
    store.recordIssuedCards([{ service: 'svc', cardUuid: 'c4', modelVersion: 'v1', label: 'A02B' }]);
    store.close();
    assert.equal(count(), 5, 'close wrote the rest');
    assert.throws(() => store.recordIssuedCards([{ service: 'svc', cardUuid: 'c5', modelVersion: 'v1', label: 'A02B' }]), /closed/);
  });

  it('a batch that cannot be written is reported, not thrown into the event loop', async () => {
    const reports: number[] = [];
    const store = new FeedbackStore(path.join(dir, 'broken.sqlite'), (_err, rows) => reports.push(rows));
    store.recordIssuedCards([{ service: 'svc', cardUuid: 'x', modelVersion: 'v1', label: 'A02B' }]);
    // Break the statement's database under the store: the deferred write fails.
    (store as unknown as { db: Database.Database }).db.exec('DROP TABLE issued_cards');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(reports, [1]);
    store.close();
  });

  it('summarises acceptance per model version and label', () => {
    const store = new FeedbackStore(path.join(dir, 'summary.sqlite'));
    // Card A (model v1) proposes two labels by suggestion; card B (v1) one; card C (v2) one; card D (v1) never answered.
    store.recordIssuedCards([
      { service: 'svc', cardUuid: 'A', suggestionUuid: 'A1', modelVersion: 'v1', label: 'C09A' },
      { service: 'svc', cardUuid: 'A', suggestionUuid: 'A2', modelVersion: 'v1', label: 'A02B' },
      { service: 'svc', cardUuid: 'B', suggestionUuid: 'B1', modelVersion: 'v1', label: 'C09A' },
      { service: 'svc', cardUuid: 'C', suggestionUuid: 'C1', modelVersion: 'v2', label: 'C09A' },
      { service: 'svc', cardUuid: 'D', suggestionUuid: 'D1', modelVersion: 'v1', label: 'C09A' },
    ]);
    store.storeFeedback(
      'svc',
      parseFeedback({
        feedback: [
          { card: 'A', outcome: 'accepted', acceptedSuggestions: [{ id: 'A1' }], outcomeTimestamp: ts },
          { card: 'B', outcome: 'overridden', outcomeTimestamp: ts },
          { card: 'C', outcome: 'accepted', acceptedSuggestions: [{ id: 'C1' }], outcomeTimestamp: ts },
          { card: 'ZZ', outcome: 'overridden', outcomeTimestamp: ts },
        ],
      }),
    );
    const summary = store.summary();
    const row = (v: string, l: string) => summary.rows.find((r) => r.modelVersion === v && r.label === l);
    assert.deepEqual(row('v1', 'C09A'), { modelVersion: 'v1', label: 'C09A', issued: 3, withFeedback: 2, accepted: 1, overridden: 1, acceptanceRate: 0.5 });
    assert.deepEqual(row('v1', 'A02B'), { modelVersion: 'v1', label: 'A02B', issued: 1, withFeedback: 1, accepted: 0, overridden: 0, acceptanceRate: 0 });
    assert.deepEqual(row('v2', 'C09A'), { modelVersion: 'v2', label: 'C09A', issued: 1, withFeedback: 1, accepted: 1, overridden: 0, acceptanceRate: 1 });
    assert.equal(summary.unmatchedFeedback, 1);
    assert.equal(summary.totalFeedback, 4);
    store.close();
  });
});

describe('feedback over HTTP and the CLI', () => {
  it('stores posted feedback idempotently, answers the summary, and 400/404 on bad posts', async () => {
    const db = path.join(dir, 'http.sqlite');
    const t = buildTestApp({ db });
    const card = randomUUID();
    t.store.recordIssuedCards([{ service: 'echo-select', cardUuid: card, suggestionUuid: 'sug-1', modelVersion: 'demo-1', label: 'A02B' }]);
    const body = { feedback: [{ card, outcome: 'accepted', acceptedSuggestions: [{ id: 'sug-1' }], outcomeTimestamp: new Date().toISOString() }] };
    assert.deepEqual((await request(t.app).post('/cds-services/echo-select/feedback').send(body).expect(200)).body, { stored: 1, duplicates: 0 });
    assert.deepEqual((await request(t.app).post('/cds-services/echo-select/feedback').send(body).expect(200)).body, { stored: 0, duplicates: 1 });
    const bad = await request(t.app).post('/cds-services/echo-select/feedback').send({ feedback: [{ card, outcome: 'accepted', outcomeTimestamp: 'yesterday' }] }).expect(400);
    assert.equal(bad.body.resourceType, 'OperationOutcome');
    assert.ok(bad.body.issue[0].expression.includes('feedback.0.acceptedSuggestions'));
    await request(t.app).post('/cds-services/nope/feedback').send(body).expect(404);
    await request(t.app).post('/cds-services/echo-select/feedback').set('Content-Type', 'application/json').send('[1,').expect(400);
    const summary = await request(t.app).get('/feedback/summary').expect(200);
    assert.deepEqual(summary.body.rows, [{ modelVersion: 'demo-1', label: 'A02B', issued: 1, withFeedback: 1, accepted: 1, overridden: 0, acceptanceRate: 1 }]);
    const metrics = await t.metrics.registry.getSingleMetricAsString('leader_cds_feedback_items_total');
    assert.match(metrics, /outcome="accepted"} 1/);
    t.store.close();

    const cli = spawnSync(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'feedback', 'summary', '--db', db], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /demo-1\s+A02B\s+1\s+1\s+1\s+0\s+100\.0%/);
    const missing = spawnSync(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'feedback', 'summary', '--db', path.join(dir, 'absent.sqlite')], { encoding: 'utf8' });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /absent\.sqlite/);
    assert.ok(!existsSync(path.join(dir, 'absent.sqlite')), 'the summary command does not create databases');
  });
});
