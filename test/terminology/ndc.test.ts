import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseNdc } from '../../src/terminology/ndc.ts';

test('NDC: every FDA segmentation and the 11-digit form normalise to 5-4-2', () => {
  const one = (value: string) => {
    const form = normaliseNdc(value);
    assert.equal(form.kind, 'ndc', value);
    return form.kind === 'ndc' ? form.candidates : [];
  };
  assert.deepEqual(one('0002-1433-80'), ['00002143380'], '4-4-2');
  assert.deepEqual(one('50090-347-01'), ['50090034701'], '5-3-2');
  assert.deepEqual(one('68180-0513-1'), ['68180051301'], '5-4-1');
  assert.deepEqual(one('00002-1433-80'), ['00002143380'], '5-4-2');
  assert.deepEqual(one('00002143380'), ['00002143380'], '11 digits');
  assert.deepEqual(one(' 00002 143380 '.replace(/ /g, '')), ['00002143380']);
});

test('NDC: unhyphenated 10 digits and lost leading zeros give every candidate reading', () => {
  const form = normaliseNdc('0002143380');
  assert.equal(form.kind, 'ndc');
  assert.deepEqual(form.kind === 'ndc' ? form.candidates : [], ['00002143380', '00021043380', '00021433800']);
  const lost = normaliseNdc('2143380'); // 00002-1433-80 read as a number by a spreadsheet
  assert.equal(lost.kind, 'ndc');
  assert.ok(lost.kind === 'ndc' && lost.candidates[0] === '00002143380');
});

test('NDC: letters, wrong segmentations, too many or too few digits are invalid with a reason', () => {
  for (const bad of ['0002-1433-8A', 'ABCDE-1234-12', '0002-14330-80', '123456789012', '12345', '', '12-34-56']) {
    const form = normaliseNdc(bad);
    assert.equal(form.kind, 'invalid', bad);
    assert.ok(form.kind === 'invalid' && form.reason.length > 0);
  }
  assert.equal(normaliseNdc(42 as unknown as string).kind, 'invalid');
});
