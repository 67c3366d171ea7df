// A running service follows a promotion in its registry without a restart, and no request fails during the swap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Encounter, MedicationRequest } from 'fhir/r4';
import { pino } from 'pino';
import { loadConfig, projectRoot } from '../../src/service/config.ts';
import { startService, type RunningService } from '../../src/service/server.ts';
import { ModelRegistry } from '../../src/retrain/registry.ts';
import { generatePatients } from '../../src/synth/generator.ts';
import { fullPrefetchOrderSelect } from './http-fixture.ts';

let tmp: string;
let service: RunningService | undefined;

/** An order-select call with full prefetch for a synthetic patient whose last encounter is current. */
function requestBody(): Record<string, unknown> {
  for (const { patient, resources } of generatePatients({ seed: 7, patients: 60 })) {
    const encounters = resources.filter((r): r is Encounter => r.resourceType === 'Encounter');
    if (encounters.length < 3) continue;
    const current = encounters.at(-1)!;
    const orders = resources.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest' && r.encounter?.reference === `Encounter/${current.id}`);
    if (orders.length === 0) continue;
    const history = resources.filter((r) => !orders.includes(r as MedicationRequest));
    return fullPrefetchOrderSelect(patient, history, current, orders[0]!);
  }
  throw new Error('no suitable synthetic patient');
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hot-swap-'));
  const registry = new ModelRegistry(join(tmp, 'models'));
  // Two versions of the demo model: the second differs only in its version string, which cards carry.
  await cp(join(projectRoot, 'models/demo'), join(tmp, 'v1'), { recursive: true });
  await cp(join(projectRoot, 'models/demo'), join(tmp, 'v2'), { recursive: true });
  for (const [dir, version] of [['v1', 'swap-v1'], ['v2', 'swap-v2']] as const) {
    const file = join(tmp, dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(file, 'utf8')) as { modelVersion: string };
    manifest.modelVersion = version;
    await writeFile(file, JSON.stringify(manifest));
    await registry.register(join(tmp, dir));
  }
  await registry.promote('swap-v1');
});

after(async () => {
  await service?.shutdown();
  await rm(tmp, { recursive: true, force: true });
});

test('promotion in the registry is picked up by the running service with no failed request', { timeout: 120_000 }, async () => {
  const file = join(tmp, 'service.json');
  await writeFile(
    file,
    JSON.stringify({
      server: { host: '127.0.0.1', timeBudgetMs: 2000 },
      model: { registry: join(tmp, 'models'), swapGraceMs: 2000 },
      mapping: { path: join(projectRoot, 'mappings/synthetic.json') },
      services: { definitionsDir: join(projectRoot, 'cds-hooks') },
      feedback: { db: join(tmp, 'feedback.sqlite') },
    }),
  );
  const config = loadConfig({ file, env: {}, overrides: { port: 0 } });
  service = await startService(config, { logger: pino({ level: 'silent' }), defaultMetrics: false });
  await service.loaded;
  assert.equal(service.hotSwap?.version, 'swap-v1');
  const body = JSON.stringify(requestBody());
  const versions: string[] = [];
  const failures: string[] = [];
  const call = async () => {
    const res = await fetch(`${service!.url}/cds-services/leader-order-select`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    if (res.status !== 200) failures.push(`${res.status} ${text.slice(0, 200)}`);
    else versions.push(/swap-v[12]/.exec(text)?.[0] ?? 'none');
  };
  let promoted = false;
  const deadline = Date.now() + 60_000;
  // Requests keep flowing (4 at a time) through the promotion until the new version answers.
  while (Date.now() < deadline && !(promoted && versions.at(-1) === 'swap-v2')) {
    await Promise.all([call(), call(), call(), call()]);
    if (!promoted && versions.length >= 8) {
      await new ModelRegistry(join(tmp, 'models')).promote('swap-v2');
      promoted = true;
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(versions.includes('swap-v1'), 'the first version answered before the promotion');
  assert.equal(versions.at(-1), 'swap-v2', `the new version answers after the promotion (${versions.slice(-5).join(', ')})`);
  assert.equal(service.hotSwap?.version, 'swap-v2');
});
