// Model directory and onnxruntime runtime: round trip, batching, and every bad input of the issue.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { buildModelFiles, saveModel } from '../../src/model/student/artifact.ts';
import { buildVocabularies, VocabIndex } from '../../src/model/student/vocab.ts';
import { initWeights, parameterSpecs } from '../../src/model/student/weights.ts';
import { ModelLoadError } from '../../src/model/runtime/errors.ts';
import { sha256 } from '../../src/model/runtime/model-dir.ts';
import { StudentRuntime } from '../../src/model/runtime/session.ts';
import { generateRecords, tinyConfig } from './helpers.ts';

const records = generateRecords({ patients: 25, seed: 8 });
const vocab = buildVocabularies(records);
const weights = initWeights(parameterSpecs(tinyConfig, new VocabIndex(vocab).sizes, vocab.labels.length), 5);
const training = { datasetFingerprint: 'abc123', records: records.length, patients: 25, seed: 1, alpha: 0, beta: 0.005, epochs: 1, batchSize: 8, learningRate: 5e-4, curve: [] };
const mapping = {
  name: 'test-mapping',
  labelSpace: 'test-labels',
  labelEntry: (l: string) => (l === vocab.labels[0] ? { name: 'First label', orderable: { system: 'http://example.org/rx', code: '123', display: 'Drug 123' } } : undefined),
};

let tmp: string;
let good: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'leader-model-'));
  good = path.join(tmp, 'good');
  await saveModel(good, buildModelFiles({ config: tinyConfig, vocab, weights }, { training, mapping }));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function copyModel(name: string, edit?: (manifest: Record<string, unknown>, onnx: Buffer) => { manifest?: unknown; onnx?: Uint8Array } | void): Promise<string> {
  const dir = path.join(tmp, name);
  const manifest = JSON.parse(await readFile(path.join(good, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const onnx = await readFile(path.join(good, 'model.onnx'));
  const changed = edit?.(manifest, onnx) ?? {};
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(changed.manifest ?? manifest));
  await writeFile(path.join(dir, 'model.onnx'), changed.onnx ?? onnx);
  return dir;
}

async function rejects(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(StudentRuntime.load(dir, { provider: 'auto' }), (err: unknown) => {
    assert.ok(err instanceof ModelLoadError, `expected ModelLoadError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('a saved model directory loads, falls back to CPU, and carries manifest metadata', async () => {
  const rt = await StudentRuntime.load(good);
  assert.equal(rt.provider, 'cpu');
  assert.ok(rt.providerFallback?.includes('CUDA'), 'the CUDA attempt is reported');
  assert.equal(rt.manifest.training.datasetFingerprint, 'abc123');
  assert.equal(rt.manifest.mapping, 'test-mapping');
  assert.deepEqual(Object.keys(rt.manifest.labelCatalog), [vocab.labels[0]]);
  assert.equal(rt.manifest.onnx.sha256, sha256(await readFile(path.join(good, 'model.onnx'))));
  await rt.close();
});

test('predict batches several records in one run and matches one-by-one predictions; unknown codes are reported', async () => {
  const rt = await StudentRuntime.load(good, { provider: 'cpu' });
  const batch: DatasetRecord[] = [records[0]!, { ...records[1]!, diagnoses: [...records[1]!.diagnoses, 'icd10:UNSEEN'] }, records[2]!];
  const together = await rt.predict(batch);
  assert.equal(together.length, 3);
  for (let i = 0; i < batch.length; i++) {
    const [alone] = await rt.predict([batch[i]!]);
    assert.equal(alone!.status, 'ok');
    assert.equal(together[i]!.status, 'ok');
    const a = (alone as { probabilities: Float32Array }).probabilities;
    const b = (together[i] as { probabilities: Float32Array }).probabilities;
    for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j]! - b[j]!) < 1e-5);
  }
  assert.deepEqual(together[1]!.unknown, [{ kind: 'diagnosis', code: 'icd10:UNSEEN' }]);
  const ranked = rt.rank((together[0] as { probabilities: Float32Array }).probabilities, 3);
  assert.equal(ranked.length, 3);
  assert.ok(ranked[0]!.probability >= ranked[1]!.probability && ranked[1]!.probability >= ranked[2]!.probability);
  assert.equal(ranked[0]!.threshold, 0.3);
  assert.deepEqual(await rt.predict([]), []);
  await rt.close();
});

test('a patient with no known code gets an explicit "no recommendation"; others in the batch still get theirs', async () => {
  const rt = await StudentRuntime.load(good, { provider: 'cpu' });
  const stranger: DatasetRecord = { ...records[0]!, history: [], diagnoses: ['icd10:ZZZ'], procedures: ['pcs:QQQ'] };
  const empty: DatasetRecord = { ...records[0]!, history: [], diagnoses: [], procedures: [] };
  const out = await rt.predict([stranger, records[3]!, empty]);
  assert.equal(out[0]!.status, 'no-recommendation');
  assert.match((out[0] as { reason: string }).reason, /no diagnosis, procedure or medication-history code/);
  assert.deepEqual(out[0]!.unknown.map((u) => u.code), ['icd10:ZZZ', 'pcs:QQQ']);
  assert.equal(out[1]!.status, 'ok');
  assert.equal(out[2]!.status, 'no-recommendation');
  assert.deepEqual(out[2]!.unknown, []);
  await rt.close();
});

test('a first-visit patient (empty history) with known codes gets a recommendation', async () => {
  const rt = await StudentRuntime.load(good, { provider: 'cpu' });
  const first = records.find((r) => r.history.length === 0)!;
  const [out] = await rt.predict([first]);
  assert.equal(out!.status, 'ok');
  assert.equal((out as { probabilities: Float32Array }).probabilities.length, vocab.labels.length);
  await rt.close();
});

test('missing manifest', async () => {
  const dir = await copyModel('no-manifest');
  await unlink(path.join(dir, 'manifest.json'));
  await rejects(dir, /has no manifest\.json/);
});

test('manifest that is not JSON', async () => {
  const dir = await copyModel('bad-json');
  await writeFile(path.join(dir, 'manifest.json'), '{ "format": ');
  await rejects(dir, /manifest\.json is not valid JSON/);
});

test('manifest of another format or with a missing field', async () => {
  await rejects(await copyModel('wrong-format', (m) => void (m.format = 'something-else')), /not a valid model manifest: format/);
  await rejects(await copyModel('no-vocab', (m) => void delete m.vocabularies), /not a valid model manifest: vocabularies/);
});

test('manifest whose label count does not match the ONNX output', async () => {
  const dir = await copyModel('label-mismatch', (m) => {
    const v = m.vocabularies as { labels: string[] };
    v.labels = [...v.labels, 'EXTRA'];
  });
  await rejects(dir, /probabilities has \d+ labels, vocabularies\.labels \d+/);
});

test('manifest whose ONNX signature does not match the model (sha256 re-stamped)', async () => {
  const dir = await copyModel('sig-mismatch', (m) => {
    const onnx = m.onnx as { inputs: Array<{ name: string; shape: unknown[] }> };
    onnx.inputs.find((i) => i.name === 'profile')!.shape = ['batch', 99];
  });
  await rejects(dir, /input profile is int64\[batch, \d+\], the manifest says int64\[batch, 99\]/);
});

test('truncated model.onnx: the sha256 check names it', async () => {
  const dir = await copyModel('truncated');
  const file = path.join(dir, 'model.onnx');
  await truncate(file, 1000);
  await rejects(dir, /model\.onnx does not match its manifest .*truncated/);
});

test('truncated model.onnx with a matching sha256: onnxruntime refuses it with a clear error', async () => {
  const dir = await copyModel('truncated-restamped', (m, onnx) => {
    const cut = onnx.subarray(0, 1000);
    (m.onnx as { sha256: string }).sha256 = sha256(cut);
    return { manifest: m, onnx: cut };
  });
  await rejects(dir, /onnxruntime cannot load model\.onnx/);
});

test('missing model.onnx', async () => {
  const dir = await copyModel('no-onnx');
  await unlink(path.join(dir, 'model.onnx'));
  await rejects(dir, /has no model\.onnx/);
});
