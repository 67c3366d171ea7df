import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/temp-dir.ts';
import { join } from 'node:path';
import { DatasetError, readDataset, writeDataset } from '../../src/dataset/io.ts';
import type { DatasetRecord } from '../../src/dataset/types.ts';

function record(patientId: string, encounterId: string, visitIndex: number, patientVisits: number, labels: string[]): DatasetRecord {
  return {
    patientId,
    encounterId,
    visitIndex,
    patientVisits,
    start: `2020-01-0${visitIndex + 1}T00:00:00Z`,
    profile: { sex: 'male' },
    history: [],
    diagnoses: ['icd10:I10'],
    procedures: [],
    labels,
  };
}

const records = [record('a', 'a1', 0, 2, ['N02B', 'B01A']), record('a', 'a2', 1, 2, ['N02B']), record('b', 'b1', 0, 1, ['C03C'])];

test('write then read gives back header, records, names and summary; the fingerprint covers the records', async () => {
  const dir = tempDir('leader-ds-');
  const path = join(dir, 'ds.jsonl');
  async function* stream() {
    yield* records;
  }
  const summary = await writeDataset(path, { mapping: 'm', labelSpace: 'atc3', createdAt: '2025-01-01T00:00:00Z' }, stream(), new Map([['N02B', 'Other analgesics']]), { 'no-label': 4 });
  assert.deepEqual(
    { ...summary, fingerprint: undefined },
    {
      type: 'summary',
      patients: 2,
      encounters: 3,
      singleEncounterPatients: 1,
      multiEncounterPatients: 1,
      skippedEncounters: { 'no-label': 4 },
      labelFrequencies: { N02B: 2, B01A: 1, C03C: 1 },
      fingerprint: undefined,
    },
  );
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 6);
  assert.deepEqual(JSON.parse(lines[0]!), { type: 'header', format: 'leader-dataset', version: 1, mapping: 'm', labelSpace: 'atc3', createdAt: '2025-01-01T00:00:00Z' });
  const back = await readDataset(path);
  assert.deepEqual(back.records, records);
  assert.deepEqual(back.names, { N02B: 'Other analgesics' });
  assert.deepEqual(back.summary, summary);

  // Same records, same fingerprint; different records, different fingerprint.
  const again = await writeDataset(join(dir, 'again.jsonl'), { mapping: 'm', labelSpace: 'atc3' }, records, {});
  assert.equal(again.fingerprint, summary.fingerprint);
  const other = await writeDataset(join(dir, 'other.jsonl'), { mapping: 'm', labelSpace: 'atc3' }, records.slice(1), {});
  assert.notEqual(other.fingerprint, summary.fingerprint);
});

test('damaged dataset files are refused with file and line', async () => {
  const dir = tempDir('leader-ds-bad-');
  const path = join(dir, 'ds.jsonl');
  await writeDataset(path, { mapping: 'm', labelSpace: 'atc3' }, records, {});
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  const variant = async (name: string, content: string[], pattern: RegExp) => {
    const file = join(dir, name);
    writeFileSync(file, content.join('\n') + '\n');
    await assert.rejects(readDataset(file), (err: unknown) => err instanceof DatasetError && pattern.test(err.message), name);
  };
  await variant('json.jsonl', [lines[0]!, '{"type": "record",', ...lines.slice(2)], /json\.jsonl:2: not JSON/);
  await variant('field.jsonl', [lines[0]!, lines[1]!.replace('"visitIndex":0', '"visitIndex":"0"'), ...lines.slice(2)], /field\.jsonl:2: invalid record: visitIndex: Expected number/);
  await variant('header.jsonl', lines.slice(1), /header\.jsonl:1: expected the leader-dataset header line/);
  await variant('truncated.jsonl', lines.slice(0, 3), /truncated\.jsonl:3: truncated: no names line/);
  await variant('altered.jsonl', [lines[0]!, lines[1]!.replace('N02B', 'N02A'), ...lines.slice(2)], /altered\.jsonl: records do not match the summary fingerprint/);
  await variant('kind.jsonl', [lines[0]!, '{"type":"weird"}', ...lines.slice(1)], /kind\.jsonl:2: unknown line type "weird"/);
  await assert.rejects(readDataset(join(dir, 'absent.jsonl')), /absent\.jsonl: file not found/);
});
