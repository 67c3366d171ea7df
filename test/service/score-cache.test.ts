import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { occlusionInputs, withoutInput } from '../../src/service/cards/explain.ts';
import { cachedModel, recordKey, ScoreCache } from '../../src/service/score-cache.ts';
import { FixtureModel } from '../support/hooks-model.ts';

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

  it('answers seen records from the cache and sends only the distinct unseen ones to the model, in one batch, with equal scores', async () => {
    const inner = new FixtureModel();
    const reference = new FixtureModel();
    const cache = new ScoreCache(1000);
    const model = cachedModel(inner, cache);
    const variants = occlusionInputs(base, 64).map((input) => withoutInput(base, input));
    const first = await model.predict([base]);
    assert.deepEqual(inner.batchSizes, [1]);
    // The explanation batch: the record itself is among the known, two copies of a variant are scored once.
    const batch = [base, ...variants, variants[0]!];
    const scored = await model.predict(batch);
    assert.deepEqual(inner.batchSizes, [1, variants.length]);
    assert.deepEqual(scored, await reference.predict(batch));
    assert.equal(scored[0], first[0], 'the cached array itself');
    // A repeated call (the next order-select, then order-sign) costs the model nothing.
    await model.predict([base]);
    await model.predict(variants);
    assert.equal(inner.calls, 2);
    assert.equal(cache.hits, 1 + 1 + variants.length);
    assert.equal(cache.misses, 1 + variants.length + 1);
  });

  it('keeps at most its bound, dropping the least recently used', async () => {
    const inner = new FixtureModel();
    const cache = new ScoreCache(2);
    const model = cachedModel(inner, cache);
    const r = (d: string): DatasetRecord => ({ ...base, diagnoses: [d] });
    await model.predict([r('icd10:I10')]);
    await model.predict([r('icd10:E119')]);
    await model.predict([r('icd10:I10')]); // most recent now
    await model.predict([r('icd10:K219')]); // evicts E119
    assert.equal(cache.size, 2);
    const before = inner.calls;
    await model.predict([r('icd10:I10')]);
    assert.equal(inner.calls, before);
    await model.predict([r('icd10:E119')]);
    assert.equal(inner.calls, before + 1);
  });
});
