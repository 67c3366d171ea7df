// The running service: listening, readiness as handlers load, discovery from cds-hooks/*.json, graceful shutdown
// that lets a call in flight finish and closes the feedback database; and `serve` failing clearly on bad config.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { loadConfig, projectRoot } from '../../src/service/config.ts';
import type { CdsService } from '../../src/service/contracts.ts';
import { createLogger } from '../../src/service/ops/logger.ts';
import { startService } from '../../src/service/server.ts';
import { orderSelectRequest } from './http-fixture.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'leader-cds-server-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function quietLogger(lines: string[]) {
  return createLogger('info', new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
}

describe('the running service', () => {
  it('is healthy at once, ready once handlers load, and drains gracefully on shutdown', async () => {
    const config = loadConfig({ env: { PORT: '0', HOST: '127.0.0.1', LEADER_CDS_FEEDBACK_DB: path.join(dir, 'fb.sqlite') } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let finishCall!: () => void;
    const slow: CdsService = {
      id: 'x',
      hook: 'order-select',
      description: 'answers when the test lets it',
      handle: () => new Promise((resolve) => (finishCall = () => resolve({ cards: [] }))),
    };
    const lines: string[] = [];
    const running = await startService(
      { ...config, server: { ...config.server, timeBudgetMs: 5000, shutdownTimeoutMs: 3000 } },
      { logger: quietLogger(lines), defaultMetrics: false, loadServices: async () => (await gate, [slow, { ...slow, id: 'y', hook: 'order-sign' }]) },
    );
    try {
      assert.ok(lines.some((l) => l.includes('JWT AUTHENTICATION IS DISABLED')), 'the disabled-auth warning is loud');
      assert.equal((await fetch(`${running.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${running.url}/readyz`)).status, 503);
      release();
      await running.loaded;
      assert.equal((await fetch(`${running.url}/readyz`)).status, 200);
      const discovery = (await (await fetch(`${running.url}/cds-services`)).json()) as { services: Array<{ id: string; hook: string }> };
      assert.deepEqual(discovery.services.map((s) => [s.id, s.hook]).sort(), [['leader-order-select', 'order-select'], ['leader-order-sign', 'order-sign']]);

      const inFlight = fetch(`${running.url}/cds-services/leader-order-select`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(orderSelectRequest()) });
      await new Promise((r) => setTimeout(r, 100));
      const stopping = running.shutdown();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(running.readiness.isReady(), false, 'draining reports not ready');
      finishCall();
      const answer = await inFlight;
      assert.equal(answer.status, 200, 'the call in flight was answered');
      await stopping;
      await assert.rejects(fetch(`${running.url}/healthz`), 'no longer listening');
      assert.throws(() => running.feedbackStore.summary(), /not open|closed/i);
    } finally {
      finishCall?.();
      await running.shutdown();
    }
  });

  it('does not pretend to be ready when the handlers fail to load at start: `loaded` rejects saying why', async () => {
    const config = loadConfig({ env: { PORT: '0', HOST: '127.0.0.1', LEADER_CDS_FEEDBACK_DB: path.join(dir, 'fb2.sqlite'), LEADER_CDS_MODEL_DIR: path.join(dir, 'no-model') } });
    const lines: string[] = [];
    const running = await startService(config, { logger: quietLogger(lines), defaultMetrics: false });
    try {
      await assert.rejects(running.loaded, /no-model/);
      const res = await fetch(`${running.url}/readyz`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { issue: Array<{ diagnostics: string }> };
      assert.match(body.issue[0]!.diagnostics, /no-model/);
      // Discovery never lists no services: an EHR could cache that.
      const discovery = await fetch(`${running.url}/cds-services`);
      assert.equal(discovery.status, 503);
      const call = await fetch(`${running.url}/cds-services/leader-order-select`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(orderSelectRequest()) });
      assert.ok([404, 503].includes(call.status));
    } finally {
      await running.shutdown();
    }
  });
});

describe('leader-cds serve', () => {
  it('exits non-zero naming the file and field when the config is bad', () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  timeBudgetMs: -5\n');
    const run = spawnSync(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'serve', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /bad\.yaml/);
    assert.match(run.stderr, /server\.timeBudgetMs/);
    const port = spawnSync(process.execPath, [path.join(projectRoot, 'bin/leader-cds.js'), 'serve', '--port', 'abc'], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(port.status, 0);
    assert.match(port.stderr, /--port/);
  });
});
