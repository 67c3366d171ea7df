import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/temp-dir.ts';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Resource } from 'fhir/r4';
import { BulkReadError, readBulk, type BulkProgress } from '../../src/fhir/bulk-reader.ts';
import { historyFromResources } from '../../src/fhir/bundle-reader.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import { generateCohort } from '../fixtures/cohort.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures');
const mappingPromise = loadMapping(join(fixtures, 'mappings/basic.json'));

function ndjson(resources: readonly Resource[], eol = '\n'): string {
  return resources.map((r) => JSON.stringify(r)).join(eol) + eol;
}

test('bulk folder (any file names, mixed types, gzip, CRLF) gives the same histories as the bundle reader', async () => {
  const mapping = await mappingPromise;
  const cohort = generateCohort(7, 60);
  const dir = tempDir('leader-bulk-');
  // Deal resources round-robin over three files so that no file name says what is inside.
  const parts: Resource[][] = [[], [], []];
  cohort.all.forEach((r, i) => parts[i % 3]!.push(r));
  writeFileSync(join(dir, 'a.ndjson'), ndjson(parts[0]!));
  writeFileSync(join(dir, 'part-2.ndjson.gz'), gzipSync(ndjson(parts[1]!)));
  writeFileSync(join(dir, 'z_windows.ndjson'), ndjson(parts[2]!, '\r\n'));
  writeFileSync(join(dir, 'notes.txt'), 'not an export file');

  const events: BulkProgress[] = [];
  const read = await readBulk(dir, { mapping, onProgress: (e) => events.push(e), progressEvery: 50 });
  assert.deepEqual(read.issues.toJSON().byKind, {});
  assert.equal(read.stats.files.length, 3);
  assert.equal(read.stats.lines, cohort.all.length);
  assert.equal(read.stats.resources.Patient, 60);
  assert.equal(read.stats.patients, 60);

  const histories = [...read.histories()];
  assert.deepEqual(histories.map((h) => h.patientId), [...cohort.byPatient.keys()].sort());
  let encounters = 0;
  let labelled = 0;
  for (const history of histories) {
    const own = cohort.byPatient.get(history.patientId)!;
    const expected = historyFromResources([...cohort.medications, ...own], mapping, history.patientId);
    assert.deepEqual(expected.issues, []);
    assert.deepEqual(history, expected.history, `Patient/${history.patientId}`);
    for (let i = 1; i < history.encounters.length; i++) {
      assert.ok(history.encounters[i - 1]!.start <= history.encounters[i]!.start, 'ordered by start');
    }
    encounters += history.encounters.length;
    labelled += history.encounters.filter((e) => e.medications.some((m) => m.labels.length > 0)).length;
  }
  assert.equal(encounters, read.stats.resources.Encounter);
  assert.ok(labelled > 0, 'the generated cohort maps some medications');
  assert.throws(() => [...read.histories()], /iterated once/);

  assert.equal(events[0]!.type, 'start');
  assert.equal(events.at(-1)!.type, 'done');
  assert.deepEqual(events.filter((e) => e.type === 'file-start').map((e) => (e as { file: string }).file), ['a.ndjson', 'part-2.ndjson.gz', 'z_windows.ndjson']);
  const ends = events.filter((e): e is Extract<BulkProgress, { type: 'file-end' }> => e.type === 'file-end');
  assert.equal(ends.reduce((n, e) => n + e.lines, 0), cohort.all.length);
  assert.ok(events.some((e) => e.type === 'progress' && e.lines === 50), 'progress every 50 lines');
});

test('every kind of bad line is a counted skip with file, line and field', async () => {
  const mapping = await mappingPromise;
  const read = await readBulk(join(fixtures, 'bulk-bad'), { mapping, maxExamples: 10 });
  const histories = [...read.histories()];
  const counts = Object.fromEntries(Object.entries(read.issues.toJSON().byKind).map(([k, v]) => [k, v.count]));
  assert.deepEqual(counts, {
    'malformed-json': 2,
    'unsupported-resource-type': 1,
    'missing-resource-type': 1,
    'missing-id': 1,
    'missing-subject': 1,
    'no-code': 1,
    'dangling-reference': 4,
    'missing-date': 2,
    'encounter-excluded': 1,
    'no-encounter': 1,
    // m4 is entered-in-error: ignored everywhere, counted under its own kind (it was a status exclusion before).
    'entered-in-error': 1,
  });
  const where = (kind: string) =>
    (read.issues.examples.get(kind as never) ?? []).map((i) => `${i.file}:${i.line}${i.field ? ` ${i.field}` : ''}`).sort();
  assert.deepEqual(where('malformed-json'), ['export-1.ndjson:19', 'export-1.ndjson:3']);
  assert.deepEqual(where('unsupported-resource-type'), ['export-1.ndjson:4 resourceType']);
  assert.deepEqual(where('missing-resource-type'), ['export-1.ndjson:5 resourceType']);
  assert.deepEqual(where('missing-id'), ['export-1.ndjson:20 id']);
  assert.deepEqual(where('missing-subject'), ['export-1.ndjson:13 subject.reference']);
  assert.deepEqual(where('no-code'), ['export-1.ndjson:7 code.coding']);
  assert.deepEqual(where('dangling-reference'), [
    'export-1.ndjson:12 medicationReference.reference',
    'export-1.ndjson:21 encounter.reference',
    'export-1.ndjson:21 subject.reference',
    'export-1.ndjson:8 encounter.reference',
  ]);
  assert.deepEqual(where('missing-date'), ['export-1.ndjson:15 onset[x]', 'export-1.ndjson:9 period.start']);
  assert.deepEqual(where('encounter-excluded'), ['export-1.ndjson:10 encounter.reference']);
  assert.deepEqual(where('no-encounter'), ['export-1.ndjson:14 encounter']);
  assert.deepEqual(where('entered-in-error'), ['export-1.ndjson:18 status']);
  assert.match(read.issues.format().join('\n'), /malformed-json: 2 \(line is not a JSON object \(skipped\)\)\n  export-1\.ndjson:3: /);

  // What survives is still there: e1 with c1 (encounter) and c6 (attached by date) and m1.
  const p1 = histories.find((h) => h.patientId === 'p1')!;
  assert.deepEqual(p1.profile, { sex: 'female', birthDate: '1950-06-15', categorical: { marital_status: 'M', race: 'White' } });
  assert.equal(p1.encounters.length, 1);
  assert.deepEqual(p1.encounters[0]!.diagnoses.map((d) => d.token), ['icd10:E119', 'icd10:N183']);
  assert.deepEqual(p1.encounters[0]!.medications.map((m) => m.labels), [['A10B']]);
  assert.equal(p1.encounters[0]!.ageYears, 69);
  const ghost = histories.find((h) => h.patientId === 'ghost')!;
  assert.deepEqual(ghost, { patientId: 'ghost', profile: { categorical: {} }, encounters: [] });
});

test('unreadable input is an error naming the folder or the file', async () => {
  const mapping = await mappingPromise;
  await assert.rejects(readBulk('/nonexistent/leader-bulk', { mapping }), (err: unknown) => err instanceof BulkReadError && /folder not found/.test(err.message));
  const empty = tempDir('leader-bulk-empty-');
  await assert.rejects(readBulk(empty, { mapping }), /no \.ndjson or \.ndjson\.gz files/);
  const truncated = tempDir('leader-bulk-trunc-');
  const gz = gzipSync(ndjson(generateCohort(3, 30).all));
  writeFileSync(join(truncated, 'Cut.ndjson.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
  copyFileSync(join(fixtures, 'bulk-bad/export-1.ndjson'), join(truncated, 'b.ndjson'));
  await assert.rejects(readBulk(truncated, { mapping }), (err: unknown) => err instanceof BulkReadError && /Cut\.ndjson\.gz: cannot read after line \d+/.test(err.message));
});
