// End to end without Redis: a synthetic bulk folder -> partitions -> dataset -> student -> evaluation -> gate -> registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCohort } from '../../src/synth/generator.ts';
import { ArtifactStore } from '../../src/retrain/artifacts.ts';
import { InlineExecutor } from '../../src/retrain/engine.ts';
import { parseRetrainConfig } from '../../src/retrain/config.ts';
import { leaderStages, runRetrain, type RetrainEvent } from '../../src/retrain/run.ts';
import { ModelRegistry } from '../../src/retrain/registry.ts';

let tmp: string;
let cohort: string;
const MAPPING = join(import.meta.dirname, '../../mappings/synthetic.json');

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'retrain-e2e-'));
  cohort = join(tmp, 'fhir');
  await writeCohort({ seed: 11, patients: 160, out: cohort, maxEncounters: 6 });
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function config(overrides: Record<string, unknown>) {
  return parseRetrainConfig({
    source: { kind: 'folder', path: cohort },
    mapping: MAPPING,
    workDir: join(tmp, 'work'),
    registry: join(tmp, 'models'),
    partitions: 3,
    evaluation: { rounds: 2, baselines: ['most-frequent', 'previous'] },
    snapshot: 'test',
    ...overrides,
  });
}

test('a first run builds the dataset across partitions, trains, evaluates and promotes; a worse candidate is not promoted', async () => {
  const store = new ArtifactStore(join(tmp, 'work'));
  const events: RetrainEvent[] = [];
  const first = await runRetrain(config({ student: { epochs: 6, dim: 16, patience: 6 }, modelVersion: 'good' }), new InlineExecutor(leaderStages(), store), store, (e) => events.push(e));
  assert.equal(first.candidate, 'good');
  assert.equal(first.promoted, true);
  assert.ok(first.dataset.patients > 100, `patients ${first.dataset.patients}`);
  for (const stage of ['import', 'partition', 'build', 'dataset', 'distil', 'evaluate']) assert.ok(events.some((e) => e.type === 'stage-end' && e.stage === stage), `${stage} ran`);
  const registry = new ModelRegistry(join(tmp, 'models'));
  assert.equal((await registry.currentDir())?.version, 'good');
  const report = JSON.parse(await readFile(first.report, 'utf8')) as { methods: Array<{ name: string }> };
  assert.deepEqual(report.methods.map((m) => m.name).sort(), ['candidate', 'most-frequent', 'previous']);

  // The merged dataset equals a single-process build of the same folder (same records, same fingerprint).
  const { readBulk } = await import('../../src/fhir/bulk-reader.ts');
  const { loadMapping } = await import('../../src/mapping/load.ts');
  const { recordsFromHistory } = await import('../../src/dataset/records.ts');
  const mapping = await loadMapping(MAPPING);
  const read = await readBulk(cohort, { mapping });
  const direct = [...read.histories()].flatMap((h) => recordsFromHistory(h, mapping));
  assert.equal(first.dataset.encounters, direct.length);
  assert.equal(first.dataset.patients, new Set(direct.map((r) => r.patientId)).size);

  // A crippled candidate on the same data is evaluated against the served one and kept out.
  const second = await runRetrain(config({ student: { epochs: 1, dim: 4, patience: 1 }, modelVersion: 'worse' }), new InlineExecutor(leaderStages(), store), store, (e) => events.push(e));
  assert.equal(second.candidate, 'worse');
  assert.equal(second.decision.passed, false, second.decision.reasons.join('; '));
  assert.equal(second.promoted, false);
  assert.equal((await registry.currentDir())?.version, 'good', 'the served model did not change');
  assert.ok(events.some((e) => e.type === 'stage-skip' && e.stage === 'dataset'), 'the dataset stages were reused');
  const list = await registry.list();
  assert.equal(list.find((v) => v.version === 'worse')?.status, 'rejected');
});
