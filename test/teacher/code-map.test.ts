// Unseen-code substitution at serving: `teacher map-codes --write-map` puts code-map.json in the model
// directory, the runtime reads unseen codes as their mapped neighbour and reports each substitution.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import type { Dataset, DatasetRecord } from '../../src/dataset/types.ts';
import { ModelLoadError } from '../../src/model/runtime/errors.ts';
import { StudentRuntime } from '../../src/model/runtime/session.ts';
import { CODE_MAP_FILE, CodeMap, type CodeMapFile } from '../../src/model/runtime/code-map.ts';
import { writeDatasetFile } from './fixtures.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demo = path.join(root, 'models/demo');
const dir = mkdtempSync(path.join(tmpdir(), 'leader-code-map-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const manifest = JSON.parse(readFileSync(path.join(demo, 'manifest.json'), 'utf8')) as { modelVersion: string; vocabularies: { diagnoses: string[] } };
const KNOWN = 'icd10cm:A419';
const UNSEEN = 'icd10cm:A4189';

function record(diagnoses: string[], history: DatasetRecord['history'] = []): DatasetRecord {
  return { patientId: 'p1', encounterId: 'e2', visitIndex: history.length, patientVisits: history.length + 1, start: '2024-03-01T00:00:00Z', profile: {}, history, diagnoses, procedures: [], labels: [] };
}

function modelCopy(name: string): string {
  const to = path.join(dir, name);
  cpSync(demo, to, { recursive: true });
  return to;
}

test('a patient whose only diagnosis is unseen gets scores after substitution, and the prediction names it', async () => {
  assert.ok(manifest.vocabularies.diagnoses.includes(KNOWN) && !manifest.vocabularies.diagnoses.includes(UNSEEN));
  const model = modelCopy('mapped');
  const ds: Dataset = {
    header: { type: 'header', format: 'leader-dataset', version: 1, mapping: 'synthetic', labelSpace: 'atc3', createdAt: '2024-01-01T00:00:00Z' },
    records: [record([UNSEEN])],
    names: { [KNOWN]: 'Sepsis, unspecified organism', 'icd10cm:A09': 'Infectious gastroenteritis and colitis, unspecified', [UNSEEN]: 'Other specified sepsis' },
    summary: { type: 'summary', patients: 1, encounters: 1, singleEncounterPatients: 1, multiEncounterPatients: 0, skippedEncounters: {}, labelFrequencies: {}, fingerprint: '' },
  };
  const file = path.join(dir, 'unseen.jsonl');
  writeDatasetFile(file, ds);
  const r = spawnSync(process.execPath, [path.join(root, 'bin/leader-cds.js'), 'teacher', 'map-codes', '--model', model, '--dataset', file, '--write-map'], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`diagnosis ${UNSEEN} "Other specified sepsis" -> ${KNOWN}`));
  assert.match(r.stdout, /wrote .*code-map\.json/);
  const map = JSON.parse(readFileSync(path.join(model, CODE_MAP_FILE), 'utf8')) as CodeMapFile;
  assert.equal(map.modelVersion, manifest.modelVersion);
  assert.deepEqual(map.entries.map((e) => [e.kind, e.from, e.to]), [['diagnosis', UNSEEN, KNOWN]]);

  const plain = await StudentRuntime.load(modelCopy('plain'));
  const served = await StudentRuntime.load(model);
  try {
    const [without] = await plain.predict([record([UNSEEN])]);
    assert.equal(without!.status, 'no-recommendation');
    assert.deepEqual(without!.unknown.filter((u) => u.kind === 'diagnosis').map((u) => u.code), [UNSEEN]);

    const [withMap] = await served.predict([record([UNSEEN])]);
    assert.equal(withMap!.status, 'ok');
    assert.deepEqual(withMap!.substitutions, [{ kind: 'diagnosis', encounter: 'current', from: UNSEEN, to: KNOWN, toName: 'Sepsis, unspecified organism', similarity: map.entries[0]!.similarity }]);
    assert.ok(!withMap!.unknown.some((u) => u.code === UNSEEN), 'a substituted code is not reported as unknown');
    // Read exactly as the known code.
    const [direct] = await served.predict([record([KNOWN])]);
    assert.equal(direct!.status, 'ok');
    assert.equal(direct!.substitutions, undefined);
    assert.deepEqual(withMap!.status === 'ok' && [...withMap!.probabilities], direct!.status === 'ok' && [...direct!.probabilities]);
  } finally {
    await plain.close();
    await served.close();
  }
});

test('applying a map: history too, no duplicate codes, untouched records are returned as they are', () => {
  const map = CodeMap.validate(
    {
      format: 'leader-code-map',
      version: 1,
      modelVersion: 'm1',
      embedder: 'character trigrams',
      minSimilarity: 0.3,
      createdAt: '2024-01-01T00:00:00Z',
      entries: [
        { kind: 'diagnosis', from: 'X1', fromName: 'x one', to: 'K1', toName: 'k one', similarity: 0.8 },
        { kind: 'diagnosis', from: 'X2', fromName: 'x two', to: 'K1', toName: 'k one', similarity: 0.6 },
        { kind: 'procedure', from: 'P9', fromName: 'p nine', to: 'P1', toName: 'p one', similarity: 0.5 },
      ],
    },
    { modelVersion: 'm1', diagnoses: ['K1', 'K2'], procedures: ['P1'] },
    'map.json',
  );
  const r = { ...record(['X1', 'K2', 'X2'], [{ encounterId: 'e1', start: '2024-01-01T00:00:00Z', diagnoses: ['K1', 'X1'], procedures: ['P9'], medications: [] }]) };
  const { record: out, substitutions } = map.apply(r);
  assert.deepEqual(out.diagnoses, ['K1', 'K2']);
  assert.deepEqual(out.history[0]!.diagnoses, ['K1']);
  assert.deepEqual(out.history[0]!.procedures, ['P1']);
  assert.deepEqual(substitutions.map((s) => `${s.encounter}:${s.from}->${s.to}`), ['current:X1->K1', 'current:X2->K1', 'e1:X1->K1', 'e1:P9->P1']);
  assert.deepEqual(r.diagnoses, ['X1', 'K2', 'X2'], 'the input record is not changed');
  const clean = record(['K2']);
  assert.equal(map.apply(clean).record, clean);
});

test('a code map that does not fit its model is refused at load, naming the file and the field', async () => {
  const base: CodeMapFile = {
    format: 'leader-code-map',
    version: 1,
    modelVersion: manifest.modelVersion,
    embedder: 'character trigrams',
    minSimilarity: 0.3,
    createdAt: '2024-01-01T00:00:00Z',
    entries: [{ kind: 'diagnosis', from: UNSEEN, fromName: 'Other specified sepsis', to: KNOWN, toName: 'Sepsis', similarity: 0.7 }],
  };
  const cases: Array<[unknown, RegExp]> = [
    [{ ...base, entries: [{ ...base.entries[0]!, to: 'icd10cm:NOPE' }] }, /code-map\.json: entries\[0\]\.to: icd10cm:NOPE is not a diagnosis code of the model/],
    [{ ...base, entries: [{ ...base.entries[0]!, from: KNOWN }] }, /entries\[0\]\.from: icd10cm:A419 is already a diagnosis code of the model/],
    [{ ...base, entries: [base.entries[0], base.entries[0]] }, /entries\[1\]\.from: diagnosis icd10cm:A4189 is mapped twice/],
    [{ ...base, modelVersion: 'other-model' }, /computed for model other-model, but the model is /],
    [{ ...base, entries: [{ ...base.entries[0]!, similarity: 3 }] }, /field entries\.0\.similarity/],
    ['{not json', /code-map\.json is not valid JSON/],
  ];
  const model = modelCopy('bad');
  for (const [content, message] of cases) {
    writeFileSync(path.join(model, CODE_MAP_FILE), typeof content === 'string' ? content : JSON.stringify(content));
    await assert.rejects(StudentRuntime.load(model), (err: unknown) => err instanceof ModelLoadError && message.test(err.message), String(message));
  }
});
