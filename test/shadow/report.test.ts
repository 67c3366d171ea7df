// The shadow report's arithmetic, and the log it reads (a real SQLite file).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ShadowLog, type ShadowCall } from '../../src/shadow/log.ts';
import { fromObservedOrders } from '../../src/shadow/orders.ts';
import { renderHtml, renderMarkdown } from '../../src/shadow/render.ts';
import { shadowReport, type LaterOrder } from '../../src/shadow/report.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'leader-cds-shadow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const call = (id: string, patientId: string, at: string, labels: string[], current: string[] = []): ShadowCall => ({
  service: 's',
  hook: 'order-select',
  hookInstance: id,
  patientId,
  modelVersion: 'm1',
  at,
  suggestions: labels.map((label, i) => ({ label, probability: 0.9 - i * 0.1 })),
  current,
});
const order = (patientId: string, at: string, labels: string[], hookInstance?: string): LaterOrder => ({ patientId, at, labels, source: 'test', ...(hookInstance ? { hookInstance } : {}) });

describe('shadow report', () => {
  test('precision over resolved calls only; unresolved calls are reported apart, not as misses', () => {
    const calls = [
      call('c1', 'p1', '2026-01-01T10:00:00Z', ['B01A', 'C07A']),
      call('c2', 'p2', '2026-01-01T10:00:00Z', ['A10B']),
      call('c3', 'p3', '2026-01-01T10:00:00Z', []),
      call('c4', 'p4', '2026-01-01T10:00:00Z', ['C10A']), // no later order at all
    ];
    const orders = [
      order('p1', '2026-01-01T11:00:00Z', ['B01A']),
      order('p1', '2026-01-05T11:00:00Z', ['C07A']), // after the 48 h window
      order('p2', '2026-01-01T09:00:00Z', ['A10B']), // before the call
      order('p2', '2026-01-02T09:00:00Z', ['N02B']),
      order('p3', '2026-01-01T12:00:00Z', ['N02B', 'B01A']),
    ];
    const r = shadowReport(calls, orders, { windowHours: 48 });
    assert.equal(r.calls, 4);
    assert.equal(r.resolved, 3);
    assert.equal(r.unresolved, 1);
    assert.equal(r.callsWithCard, 3);
    assert.equal(r.alertRate, 0.75);
    assert.equal(r.suggestionsPerCard, 4 / 3);
    assert.deepEqual(r.model, { shown: 3, hits: 1, precision: 1 / 3 });
    const b01a = r.perLabel.find((l) => l.label === 'B01A')!;
    assert.deepEqual([b01a.suggested, b01a.shown, b01a.hits, b01a.alertRate], [1, 1, 1, 0.25]);
    // c4 suggested C10A but nothing was ordered for p4: suggested, never shown on a resolved call.
    assert.deepEqual(r.perLabel.find((l) => l.label === 'C10A')!.shown, 0);
  });

  test('label frequency is shown on the same calls, as many as the model offered, leaving the patient out', () => {
    const calls = [call('c1', 'p1', '2026-01-01T10:00:00Z', ['X']), call('c2', 'p2', '2026-01-01T10:00:00Z', ['Y']), call('c3', 'p3', '2026-01-01T10:00:00Z', ['Z'], ['F'])];
    const orders = [
      order('p1', '2026-01-01T11:00:00Z', ['F']),
      order('p2', '2026-01-01T11:00:00Z', ['F', 'G']),
      order('p3', '2026-01-01T11:00:00Z', ['G', 'F']),
      order('p9', '2026-01-01T11:00:00Z', ['F']), // a patient with no call: not a frequency source
    ];
    const r = shadowReport(calls, orders, { windowHours: 48 });
    // c1: others ordered F twice, G twice -> F (tie by name) hit. c2: F 2, G 1 -> F hit. c3: F is current -> G hit.
    assert.deepEqual(r.labelFrequency, { shown: 3, hits: 3, precision: 1 });
    assert.deepEqual(r.model, { shown: 3, hits: 0, precision: 0 });
  });

  test('an order-sign draft set never counts for the call that recorded it', () => {
    const r = shadowReport([call('sign-1', 'p1', '2026-01-01T10:00:00Z', ['B01A'])], [order('p1', '2026-01-01T10:00:00Z', ['B01A'], 'sign-1')], { windowHours: 48 });
    assert.equal(r.resolved, 0);
    assert.equal(r.unresolved, 1);
  });

  test('the log keeps calls and observed orders across reopening; a retried call is one call; renders', () => {
    const file = path.join(dir, 'fb.sqlite');
    const log = new ShadowLog(file);
    log.recordCall(call('c1', 'p1', '2026-01-01T10:00:00Z', ['B01A']));
    log.recordCall(call('c1', 'p1', '2026-01-01T10:00:01Z', ['B01A']));
    log.recordCall({ ...call('c2', 'p2', '2026-01-01T10:00:00Z', []), encounterId: 'e2', userId: 'Practitioner/1' });
    log.recordOrders({ service: 'sign', hookInstance: 'h9', patientId: 'p1', at: '2026-01-01T10:30:00Z', labels: ['B01A', 'N02B'] });
    log.close();
    const again = new ShadowLog(file);
    try {
      const calls = again.calls();
      assert.equal(calls.length, 2);
      assert.equal(calls.find((c) => c.hookInstance === 'c2')!.userId, 'Practitioner/1');
      const r = shadowReport(calls, fromObservedOrders(again.observedOrders()), { windowHours: 48, names: new Map([['B01A', 'Antithrombotic agents']]) });
      assert.deepEqual(r.model, { shown: 1, hits: 1, precision: 1 });
      const md = renderMarkdown(r, 'Shadow report');
      assert.match(md, /\| B01A Antithrombotic agents \| 1 \| 50\.0% \| 1 \| 1 \| 100\.0% \|/);
      assert.match(md, /unresolved .* \| 1 \|/);
      const html = renderHtml(r, 'Shadow <report>');
      assert.match(html, /<title>Shadow &lt;report&gt;<\/title>/);
    } finally {
      again.close();
    }
  });
});
