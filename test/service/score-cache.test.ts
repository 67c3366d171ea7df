import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { occlusionInputs, scoreRecord, withOcclusion } from '../../src/service/cards/explain.ts';
import { recordKey, ScoreCache } from '../../src/service/score-cache.ts';
import type { RecordScores } from '../../src/service/hooks/ports.ts';
import { CodeMap } from '../../src/model/runtime/code-map.ts';
import { FixtureModel } from '../support/hooks-model.ts';

/** The fixture model behind a real code map: icd10:I119, which it never saw, is read as icd10:I10. */
class MappedModel extends FixtureModel {
  readonly map = CodeMap.validate(
    {
      format: 'leader-code-map',
      version: 1,
      modelVersion: this.version,
      embedder: 'test',
      minSimilarity: 0.5,
      createdAt: '2026-01-01T00:00:00Z',
      entries: [{ kind: 'diagnosis', from: 'icd10:I119', fromName: 'Hypertensive heart disease', to: 'icd10:I10', toName: 'Essential hypertension', similarity: 0.8 }],
    },
    { modelVersion: this.version, diagnoses: ['icd10:I10', 'icd10:I4891', 'icd10:E119', 'icd10:M545'], procedures: [] },
    'test map',
  );
  override async predict(records: DatasetRecord[]): Promise<Float32Array[]> {
    return super.predict(records.map((r) => this.map.apply(r).record));
  }
  async scoreRecord(record: DatasetRecord): Promise<RecordScores> {
    const { record: read, substitutions } = this.map.apply(record);
    const [probabilities] = await super.predict([read]);
    return { probabilities: probabilities!, substitutions };
  }
}

const base: DatasetRecord = {
  patientId: 'p1',
  encounterId: 'e3',
  visitIndex: 2,
  patientVisits: 3,
  start: '2024-03-01T10:00:00Z',
  profile: { sex: 'female', age_band: '70-79' },
  history: [
    { encounterId: 'e1', start: '2023-01-01T00:00:00Z', diagnoses: ['icd10:I10'], procedures: [], medications: ['C09A'] },
    { encounterId: 'e2', start: '2023-06-01T00:00:00Z', diagnoses: ['icd10:E119'], procedures: ['sct:232717009'], medications: ['A10B'] },
  ],
  diagnoses: ['icd10:I4891', 'icd10:M545'],
  procedures: [],
  labels: [],
};

describe('score cache', () => {
  it('keys a record by what the model reads: ids, dates, labels and profile key order do not count; every input does', () => {
    const same = recordKey(base);
    assert.equal(recordKey({ ...base, patientId: 'p2', encounterId: 'x', start: '2030-01-01T00:00:00Z', labels: ['B01A'], visitIndex: 0 }), same);
    assert.equal(recordKey({ ...base, profile: { age_band: '70-79', sex: 'female' } }), same);
    assert.equal(recordKey({ ...base, history: base.history.map((h) => ({ ...h, encounterId: `${h.encounterId}-x` })) }), same);
    const changed: DatasetRecord[] = [
      { ...base, diagnoses: ['icd10:I4891'] },
      { ...base, procedures: ['sct:1'] },
      { ...base, profile: { ...base.profile, age_band: '80-89' } },
      { ...base, profile: { sex: 'female' } },
      { ...base, history: base.history.slice(1) },
      { ...base, history: [{ ...base.history[0]!, medications: [] }, base.history[1]!] },
      // The same codes in another visit are another record.
      { ...base, history: [{ ...base.history[0]!, diagnoses: [] }, { ...base.history[1]!, diagnoses: ['icd10:E119', 'icd10:I10'] }] },
    ];
    const keys = new Set(changed.map(recordKey));
    assert.equal(keys.size, changed.length);
    assert.ok(!keys.has(same));
  });

  it('a repeated call gets the record\'s scores and its explanation from the cache, equal to the model\'s, without running it', async () => {
    const model = new FixtureModel();
    const cache = new ScoreCache(1000);
    const first = await withOcclusion(model, await scoreRecord(model, base, cache), 64, cache);
    assert.deepEqual(model.batchSizes, [1, occlusionInputs(base, 64).length]);
    // The next order-select (or order-sign) of the session: ids and dates differ, the inputs do not.
    const again = await withOcclusion(model, await scoreRecord(model, { ...base, encounterId: 'other', start: '2030-01-01T00:00:00Z' }, cache), 64, cache);
    assert.equal(model.calls, 2, 'the model did not run again');
    assert.equal(cache.hits, 2);
    const plain = await withOcclusion(model, await scoreRecord(model, base), 64);
    assert.deepEqual(again.base, plain.base);
    assert.deepEqual(again.occluded, plain.occluded);
    assert.deepEqual(again.inputs, first.inputs);
    // Another bound is another explanation; another record is a miss.
    await withOcclusion(model, await scoreRecord(model, base, cache), 3, cache);
    await scoreRecord(model, { ...base, diagnoses: ['icd10:I10'] }, cache);
    assert.deepEqual(model.batchSizes.slice(4), [3, 1]);
  });

  it('a cached record keeps the substitutions the model made to read it', async () => {
    const model = new MappedModel();
    const cache = new ScoreCache(1000);
    const unseen: DatasetRecord = { ...base, diagnoses: ['icd10:I119', 'icd10:M545'] };
    const first = await scoreRecord(model, unseen, cache);
    assert.deepEqual(first.substitutions.map((s) => [s.from, s.to, s.encounter]), [['icd10:I119', 'icd10:I10', 'current']]);
    const again = await scoreRecord(model, { ...unseen, encounterId: 'other' }, cache);
    assert.equal(cache.hits, 1);
    assert.equal(model.calls, 1, 'the model did not run again');
    assert.deepEqual(again.substitutions, first.substitutions);
    assert.deepEqual(again.base, first.base);
    // The mapped code counts as the known one; a record without unseen codes reports none.
    assert.deepEqual(first.base, (await scoreRecord(model, { ...base, diagnoses: ['icd10:I10', 'icd10:M545'] })).base);
    assert.deepEqual((await scoreRecord(model, base, cache)).substitutions, []);
  });

  it('keeps at most its bound in score vectors, dropping the least recently used', () => {
    const v = () => new Float32Array(4);
    const one = () => ({ probabilities: v(), substitutions: [] });
    const cache = new ScoreCache(5);
    cache.set('a', one());
    cache.set('b', [v(), v(), v()]);
    assert.ok(cache.get('a')); // a is now the most recent
    cache.set('c', [v(), v()]); // 6 vectors: b goes
    assert.equal(cache.get('b'), undefined);
    assert.ok(cache.get('a'));
    assert.ok(cache.get('c'));
    assert.equal(cache.size, 2);
    const seen: boolean[] = [];
    const counted = new ScoreCache(10, (hit) => seen.push(hit));
    counted.set('x', one());
    counted.get('x');
    counted.get('y');
    assert.deepEqual(seen, [true, false]);
  });
});
