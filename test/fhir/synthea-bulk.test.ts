// Integration check on the Synthea bulk sample in ../shared (skipped when ../shared is absent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readBulk } from '../../src/fhir/bulk-reader.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import { CoverageCollector } from '../../src/mapping/coverage.ts';

const root = resolve(import.meta.dirname, '../..');
const sample = join(resolve(root, '../shared'), 'data/synthea-bulk-10');
const skip = existsSync(sample) ? false : `../shared/data/synthea-bulk-10 not found at ${sample}: Synthea integration skipped`;

test('Synthea sample: SNOMED conditions stay active until abatement, RxNorm maps to ATC through the project CSV', { skip }, async () => {
  const mapping = await loadMapping(join(root, 'mappings/synthea.json'));
  const coverage = new CoverageCollector();
  const read = await readBulk(sample, { mapping, sink: coverage });
  let placements = 0;
  let chronicLater = 0;
  for (const history of read.histories()) {
    coverage.history(history);
    const onset = new Map<string, number>();
    history.encounters.forEach((enc, i) => {
      for (const d of enc.diagnoses) {
        placements++;
        const first = onset.get(d.source!);
        if (first === undefined) onset.set(d.source!, i);
        else if (i > first) chronicLater++;
      }
    });
  }
  const report = coverage.report(mapping, sample, read.issues);
  assert.equal(read.issues.count(), 0, JSON.stringify(read.issues.toJSON()));
  assert.equal(report.patients, 13);
  assert.equal(report.encounters, 1215);
  assert.equal(report.diagnoses.occurrences, 555);
  assert.equal(report.medications.occurrences, 1745);
  assert.equal(report.medications.share, 1, JSON.stringify(report.medications.topUnmapped));
  // Each Condition is recorded once, but counts at later encounters too.
  assert.ok(placements > 555 && chronicLater > 0, `placements ${placements}, later ${chronicLater}`);
  assert.ok(report.encountersWithDiagnosisAndLabel > 0);
});
