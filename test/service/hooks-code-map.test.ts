// A model directory with a code map (code-map.json, `teacher map-codes --write-map`) on the real app: a patient whose
// current diagnosis the model never saw, but the map reads as a known code, gets a suggestion card that says so.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Condition, Encounter, FhirResource, MedicationRequest } from 'fhir/r4';
import request from 'supertest';
import { describeResponseProblems } from '../../src/service/cards-schema.ts';
import { projectRoot, ServiceConfigSchema } from '../../src/service/config.ts';
import type { Card } from '../../src/service/contracts.ts';
import { SUGGESTION_SOURCE } from '../../src/service/cards/suggestion-card.ts';
import { FeedbackStore } from '../../src/service/feedback/store.ts';
import type { LoadedModelServices } from '../../src/service/hot-swap.ts';
import { createLogger } from '../../src/service/ops/logger.ts';
import { createMetrics, type ServiceMetrics } from '../../src/service/ops/metrics.ts';
import { loadModelServices } from '../../src/service/wiring.ts';
import { generatePatients } from '../../src/synth/generator.ts';
import { writeCodeMap } from '../../src/model/runtime/code-map.ts';
import { buildTestApp, fullPrefetchOrderSelect as callFor, type TestApp } from './http-fixture.ts';

const demo = path.join(projectRoot, 'models/demo');
const skip = existsSync(path.join(demo, 'manifest.json')) ? false : 'models/demo is absent (npm run demo-model builds it)';
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
/** Hypertensive heart disease without heart failure: not a code of the demo model (checked below). */
const UNSEEN = { code: 'I11.9', token: 'icd10cm:I119', display: 'Hypertensive heart disease without heart failure' };
const LINE = 'Read as the nearest known code';

interface Served {
  t: TestApp;
  metrics: ServiceMetrics;
  loaded: LoadedModelServices;
}

async function serve(modelDir: string): Promise<Served> {
  const config = ServiceConfigSchema.parse({
    log: { level: 'silent' },
    model: { dir: modelDir },
    mapping: { path: path.join(projectRoot, 'mappings/synthetic.json') },
    services: { definitionsDir: path.join(projectRoot, 'cds-hooks') },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const store = new FeedbackStore(':memory:');
  const loaded = await loadModelServices({ config, metrics, feedbackStore: store, logger: createLogger('silent') }, modelDir);
  return { t: buildTestApp({ services: loaded.services, metrics, store }), metrics, loaded };
}

async function cards(t: TestApp, body: Record<string, unknown>): Promise<Card[]> {
  const res = await request(t.app).post('/cds-services/leader-order-select').send(body).expect(200);
  assert.deepEqual(describeResponseProblems(res.body), [], 'the response validates against the CDS Hooks schema');
  return (res.body as { cards: Card[] }).cards;
}

const suggestionOf = (cs: Card[]): Card | undefined => cs.find((c) => c.source.label.startsWith(SUGGESTION_SOURCE));

describe('unseen codes read through the model directory code map, on the suggestion card', { skip }, () => {
  let tmp: string;
  let plain: Served;
  let mapped: Served;
  /** The same call twice: as recorded (a known diagnosis), and with that diagnosis recoded to the unseen code. */
  let original: Record<string, unknown>;
  let recoded: Record<string, unknown>;
  let known: { token: string; display: string };

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'hooks-code-map-'));
    await cp(demo, path.join(tmp, 'plain'), { recursive: true });
    await cp(demo, path.join(tmp, 'mapped'), { recursive: true });
    plain = await serve(path.join(tmp, 'plain'));
    const manifest = JSON.parse(await readFile(path.join(demo, 'manifest.json'), 'utf8')) as { modelVersion: string; vocabularies: { diagnoses: string[] } };
    const vocab = new Set(manifest.vocabularies.diagnoses);
    assert.ok(!vocab.has(UNSEEN.token), `${UNSEEN.token} must be unseen by the demo model`);

    // The first synthetic patient whose current encounter has a known ICD-10-CM diagnosis and gets a suggestion card.
    for (const { patient, resources } of generatePatients({ seed: 7, patients: 80 })) {
      const encounters = resources.filter((r): r is Encounter => r.resourceType === 'Encounter');
      if (encounters.length < 2) continue;
      const current = encounters.at(-1)!;
      const orders = resources.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest' && r.encounter?.reference === `Encounter/${current.id}`);
      const diagnoses = resources.filter(
        (r): r is Condition =>
          r.resourceType === 'Condition' &&
          r.encounter?.reference === `Encounter/${current.id}` &&
          r.code?.coding?.some((c) => c.system === ICD10CM && vocab.has(`icd10cm:${(c.code ?? '').replace(/\./g, '')}`)) === true,
      );
      // Essential hypertension, when the encounter has it, is what a real map would read I11.9 as.
      const condition = diagnoses.find((c) => c.code!.coding!.some((x) => x.code === 'I10')) ?? diagnoses[0];
      if (orders.length === 0 || !condition) continue;
      const history = resources.filter((r) => !orders.includes(r as MedicationRequest));
      const body = callFor(patient, history, current, orders[0]!);
      if (!suggestionOf(await cards(plain.t, body))) continue;
      const coding = condition.code!.coding!.find((c) => c.system === ICD10CM)!;
      known = { token: `icd10cm:${coding.code!.replace(/\./g, '')}`, display: coding.display ?? coding.code! };
      const unseenCondition: Condition = { ...condition, code: { coding: [{ system: ICD10CM, code: UNSEEN.code, display: UNSEEN.display }], text: UNSEEN.display } };
      original = body;
      recoded = callFor(patient, history.map((r) => (r === condition ? unseenCondition : r)), current, orders[0]!);
      break;
    }
    assert.ok(recoded, 'a synthetic patient with a suggestion card and a known current diagnosis');

    await writeCodeMap(path.join(tmp, 'mapped'), {
      format: 'leader-code-map',
      version: 1,
      modelVersion: manifest.modelVersion,
      embedder: 'test',
      minSimilarity: 0.5,
      createdAt: new Date().toISOString(),
      entries: [{ kind: 'diagnosis', from: UNSEEN.token, fromName: 'Hypertensive heart disease (code map name)', to: known.token, toName: known.display, similarity: 0.81 }],
    });
    mapped = await serve(path.join(tmp, 'mapped'));
  });

  after(async () => {
    await plain?.loaded.close();
    await mapped?.loaded.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('names the substitution on the suggestion card, which suggests what the known code would', async () => {
    const card = suggestionOf(await cards(mapped.t, recoded));
    assert.ok(card, 'the mapped model reads the unseen diagnosis and suggests');
    const lines = card.detail!.split('\n').filter((l) => l.includes(LINE));
    // The patient's own display names the unseen code; the map's toName names the known one.
    assert.deepEqual(lines, [`- ${LINE}: \`${known.token}\` (${known.display}) for \`${UNSEEN.token}\` (${UNSEEN.display})`]);
    assert.ok(card.summary.length <= 139);
    // Read as the known code, the record scores as the original one: the same suggestions.
    const reference = suggestionOf(await cards(plain.t, original))!;
    assert.deepEqual(card.suggestions!.map((s) => s.label), reference.suggestions!.map((s) => s.label));
    assert.ok(!reference.detail!.includes(LINE), 'no substitution for a patient whose codes the model knows');

    // The next call of the session is served from the score cache and must still say it.
    const again = suggestionOf(await cards(mapped.t, { ...recoded, hookInstance: randomUUID() }))!;
    assert.deepEqual(again.detail!.split('\n').filter((l) => l.includes(LINE)), lines);
    const metric = await mapped.metrics.registry.getSingleMetricAsString('leader_cds_code_substitutions_total');
    assert.match(metric, /leader_cds_code_substitutions_total\{hook="order-select",kind="diagnosis"\} 2/);
    assert.doesNotMatch(metric, /I119|icd10cm/, 'no codes in metric labels');
  });

  it('says nothing of the kind without the code map', async () => {
    for (const card of await cards(plain.t, recoded)) assert.ok(!card.detail?.includes(LINE), card.summary);
    const metric = await plain.metrics.registry.getSingleMetricAsString('leader_cds_code_substitutions_total');
    assert.doesNotMatch(metric, /kind=/);
  });
});
