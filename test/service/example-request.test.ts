// The README's example call keeps working: the bundled demo model answers cds-hooks/examples/order-select-request.json
// with a suggestion card that the card schema accepts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, projectRoot } from '../../src/service/config.ts';
import { startService, type RunningService } from '../../src/service/server.ts';
import { CdsResponseSchema } from '../../src/service/cards-schema.ts';

let service: RunningService | undefined;
let tmp: string | undefined;
after(async () => {
  await service?.shutdown();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the example order-select request gets suggestion cards from the demo model', async () => {
  tmp = await mkdtemp(join(tmpdir(), 'example-'));
  const config = loadConfig({ env: { LEADER_CDS_FEEDBACK_DB: join(tmp, 'feedback.sqlite'), HOST: '127.0.0.1' }, overrides: { port: 0 } });
  service = await startService(config, { logger: pino({ level: 'silent' }), defaultMetrics: false });
  await service.loaded;
  const body = await readFile(join(projectRoot, 'cds-hooks/examples/order-select-request.json'), 'utf8');
  const res = await fetch(`${service.url}/cds-services/leader-order-select`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 200);
  const answer = (await res.json()) as { cards: Array<{ summary: string; suggestions?: unknown[]; detail?: string }> };
  CdsResponseSchema.parse(answer);
  const suggestions = answer.cards.find((c) => (c.suggestions?.length ?? 0) > 0);
  assert.ok(suggestions, `a suggestion card (got ${answer.cards.map((c) => c.summary).join(' | ')})`);
  assert.ok(suggestions.summary.length <= 139);
  assert.match(suggestions.detail ?? '', /demo-synthetic-3000-s7-seed42/);
});
