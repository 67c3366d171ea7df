import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModelFiles, saveModel } from '../../src/model/student/artifact.ts';
import { buildVocabularies, VocabIndex } from '../../src/model/student/vocab.ts';
import { initWeights, parameterSpecs } from '../../src/model/student/weights.ts';
import { ModelRegistry, RegistryError } from '../../src/retrain/registry.ts';
import { promotionGate, DEFAULT_GATE } from '../../src/retrain/gate.ts';
import type { EvaluationReport, MethodResult, Stat } from '../../src/eval/harness.ts';
import { generateRecords, tinyConfig } from '../model/helpers.ts';

let tmp: string;
const models: Record<string, string> = {};

async function makeModel(version: string, seed: number): Promise<string> {
  const records = generateRecords({ patients: 10, seed });
  const vocab = buildVocabularies(records);
  const weights = initWeights(parameterSpecs(tinyConfig, new VocabIndex(vocab).sizes, vocab.labels.length), seed);
  const dir = join(tmp, 'build', version);
  const training = { datasetFingerprint: `fp-${seed}`, records: records.length, patients: 10, seed, alpha: 0, beta: 0, epochs: 1, batchSize: 8, learningRate: 5e-4, curve: [] };
  await saveModel(dir, buildModelFiles({ config: tinyConfig, vocab, weights }, { modelVersion: version, training }));
  return dir;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'registry-'));
  models.a = await makeModel('v1', 1);
  models.b = await makeModel('v2', 2);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('register, promote, rollback: the served version moves and the history says why', async () => {
  const registry = new ModelRegistry(join(tmp, 'models'));
  assert.equal(await registry.currentDir(), undefined);
  await registry.register(models.a!);
  await registry.register(models.a!); // idempotent
  assert.equal((await registry.list()).length, 1);
  await registry.promote('v1');
  assert.equal((await registry.currentDir())?.version, 'v1');
  await registry.register(models.b!);
  await registry.promote('v2');
  assert.equal((await registry.currentDir())?.version, 'v2');
  const rolled = await registry.rollback();
  assert.deepEqual(rolled, { from: 'v2', to: 'v1' });
  assert.equal((await registry.currentDir())?.version, 'v1');
  const file = JSON.parse(await readFile(registry.file, 'utf8')) as { history: Array<{ action: string }> };
  assert.deepEqual(file.history.map((h) => h.action), ['promote', 'promote', 'rollback']);
});

test('bad registry states are clear errors and never change the served model', async () => {
  const registry = new ModelRegistry(join(tmp, 'models2'));
  await assert.rejects(registry.promote('nope'), RegistryError);
  await assert.rejects(registry.rollback(), /nothing to roll back/);
  await registry.register(models.a!);
  await registry.promote('v1');
  // A same-named version with a different model is refused.
  const clash = await makeModel('v1', 3);
  await assert.rejects(registry.register(clash), /different model/);
  // A registered version whose files were damaged cannot be promoted.
  await registry.register(models.b!);
  await writeFile(join(registry.root, 'v2', 'model.onnx'), 'truncated');
  await assert.rejects(registry.promote('v2'), /does not match its manifest/);
  assert.equal((await registry.currentDir())?.version, 'v1');
  await writeFile(registry.file, '{"current": 5}');
  await assert.rejects(registry.read(), (err: unknown) => err instanceof RegistryError && /registry\.json: current/.test(err.message));
});

function stat(mean: number): Stat {
  return { mean, std: 0.01, n: 10 };
}
function method(name: string, prAuc: number, jaccard: number, ddiRate: number): MethodResult {
  const group = { jaccard: stat(jaccard), f1: stat(jaccard), prAuc: stat(prAuc), ddiRate: stat(ddiRate), med: stat(5) };
  return { name, threshold: 0.3, summary: { overall: group, single: group, multi: group }, rounds: { overall: group, single: group, multi: group }, folds: [], perLabel: [], seconds: { fit: 0, predict: 0, predictPerSampleMs: 0 } };
}
function report(methods: MethodResult[]): EvaluationReport {
  return { methods } as unknown as EvaluationReport;
}

test('the promotion gate passes no-worse candidates and stops regressions', () => {
  const served = method('served', 0.7, 0.45, 0.05);
  assert.equal(promotionGate(report([method('cand', 0.71, 0.46, 0.05), served]), 'cand', 'served').passed, true);
  assert.equal(promotionGate(report([method('cand', 0.698, 0.449, 0.05), served]), 'cand', 'served').passed, true, 'within tolerance');
  const worsePr = promotionGate(report([method('cand', 0.68, 0.46, 0.05), served]), 'cand', 'served');
  assert.equal(worsePr.passed, false);
  assert.match(worsePr.reasons.join(' '), /PR-AUC 0.6800 is 0.0200 below/);
  assert.equal(promotionGate(report([method('cand', 0.72, 0.43, 0.05), served]), 'cand', 'served').passed, false, 'Jaccard drop');
  assert.equal(promotionGate(report([method('cand', 0.72, 0.47, 0.06), served]), 'cand', 'served').passed, false, 'DDI worse');
  assert.equal(promotionGate(report([method('cand', 0.5, 0.3, 0.1)]), 'cand', undefined).passed, true, 'first model');
  assert.equal(promotionGate(report([served]), 'cand', 'served').passed, false, 'missing candidate');
  assert.equal(DEFAULT_GATE.ddiTolerance, 0);
});
