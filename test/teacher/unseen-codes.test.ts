import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { trainBpe } from '../../src/teacher/bpe-trainer.ts';
import { Decoder } from '../../src/teacher/decoder.ts';
import { DEFAULT_TEMPLATE } from '../../src/teacher/prompt.ts';
import { tokenizerFromJson } from '../../src/teacher/tokenizer.ts';
import { CodeNeighbours, substituteUnseenCodes, teacherNameEmbedder, trigramEmbedder } from '../../src/teacher/unseen-codes.ts';
import { backend, tinyConfig } from './helpers.ts';

before(backend);

const names: Record<string, string> = {
  'icd10:I10': 'Essential (primary) hypertension',
  'icd10:E11': 'Type 2 diabetes mellitus',
  'icd10:J18': 'Pneumonia, unspecified organism',
  'icd10:E119': 'Type 2 diabetes mellitus without complications',
  'icd10:I119': 'Hypertensive heart disease without heart failure',
  'icd10:Z99': '',
  'pcs:0BH17EZ': 'Insertion of endotracheal airway into trachea',
  'pcs:0BH18EZ': 'Insertion of endotracheal airway into trachea, via natural opening endoscopic',
};
const knownDx = ['icd10:I10', 'icd10:E11', 'icd10:J18'];
const knownPx = ['pcs:0BH17EZ'];

describe('unseen codes', () => {
  test('a named unseen code maps to the nearest known code of the same kind, and the substitution is reported', () => {
    const embed = trigramEmbedder();
    const neighbours = {
      diagnosis: new CodeNeighbours(knownDx.map((t) => ({ token: t, name: names[t]! })), embed),
      procedure: new CodeNeighbours(knownPx.map((t) => ({ token: t, name: names[t]! })), embed),
    };
    const record: DatasetRecord = {
      patientId: 'p',
      encounterId: 'e2',
      visitIndex: 1,
      patientVisits: 2,
      start: '2020-01-01',
      profile: {},
      history: [{ encounterId: 'e1', start: '2019-01-01', diagnoses: ['icd10:I119'], procedures: [], medications: [] }],
      diagnoses: ['icd10:E119', 'icd10:J18', 'icd10:Z99', 'icd10:X00'],
      procedures: ['pcs:0BH18EZ'],
      labels: [],
    };
    const { record: mapped, substitutions } = substituteUnseenCodes(record, {
      known: { diagnoses: new Set(knownDx), procedures: new Set(knownPx) },
      neighbours,
      names,
      minSimilarity: 0.25,
    });
    assert.deepEqual(mapped.diagnoses, ['icd10:E11', 'icd10:J18', 'icd10:Z99', 'icd10:X00'], 'unnamed codes stay as they are');
    assert.deepEqual(mapped.history[0]!.diagnoses, ['icd10:I10']);
    assert.deepEqual(mapped.procedures, ['pcs:0BH17EZ']);
    assert.deepEqual(
      substitutions.map((s) => [s.kind, s.encounter, s.from, s.to]),
      [
        ['diagnosis', 'e1', 'icd10:I119', 'icd10:I10'],
        ['diagnosis', 'current', 'icd10:E119', 'icd10:E11'],
        ['procedure', 'current', 'pcs:0BH18EZ', 'pcs:0BH17EZ'],
      ],
    );
    assert.ok(substitutions.every((s) => s.similarity >= 0.25 && s.similarity <= 1 + 1e-6));
    assert.equal(record.diagnoses[0], 'icd10:E119', 'the input record is not changed');

    const strict = substituteUnseenCodes(record, { known: { diagnoses: new Set(knownDx), procedures: new Set(knownPx) }, neighbours, names, minSimilarity: 0.99 });
    assert.equal(strict.substitutions.length, 0, 'no neighbour is close enough at 0.99');
  });

  test('the teacher embedder gives unit vectors and a deterministic neighbour', () => {
    const bpe = trainBpe(Object.values(names).filter(Boolean), { vocabSize: 320, minFrequency: 1 });
    const tokenizer = tokenizerFromJson(bpe.tokenizerJson, bpe.tokenizerConfig, 'names');
    const decoder = Decoder.random(tinyConfig({ vocabSize: tokenizer.vocabSize }), 3);
    decoder.attachHead(2);
    const embed = teacherNameEmbedder({ dir: '-', decoder, tokenizer, manifest: { template: DEFAULT_TEMPLATE } as never });
    const v = embed(['Type 2 diabetes mellitus', 'Pneumonia']);
    for (const x of v) assert.ok(Math.abs(Math.hypot(...x) - 1) < 1e-5);
    const n = new CodeNeighbours(knownDx.map((t) => ({ token: t, name: names[t]! })), embed);
    assert.equal(n.nearest(names['icd10:E11']!)!.token, 'icd10:E11', 'a known name is its own nearest neighbour');
    decoder.dispose();
  });
});
