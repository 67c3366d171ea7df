import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/temp-dir.ts';
import { join, resolve } from 'node:path';
import { readBulk } from '../../src/fhir/bulk-reader.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import { CoverageCollector, renderCoverageTable } from '../../src/mapping/coverage.ts';
import { generateCohort, DRUG_NAME } from '../fixtures/cohort.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures');

test('coverage counts occurrences, mapped shares and the top unmapped codes with their display', async () => {
  const mapping = await loadMapping(join(fixtures, 'mappings/basic.json'));
  const cohort = generateCohort(11, 40);
  const dir = tempDir('leader-cov-');
  writeFileSync(join(dir, 'all.ndjson'), cohort.all.map((r) => JSON.stringify(r)).join('\n'));
  const coverage = new CoverageCollector();
  const read = await readBulk(dir, { mapping, sink: coverage });
  let meds = 0;
  let mappedMeds = 0;
  let eligible = 0;
  for (const history of read.histories()) {
    coverage.history(history);
    for (const enc of history.encounters) {
      meds += enc.medications.length;
      mappedMeds += enc.medications.filter((m) => m.labels.length > 0).length;
      if (enc.diagnoses.length > 0 && enc.medications.some((m) => m.labels.length > 0)) eligible++;
    }
  }
  const report = coverage.report(mapping, dir, read.issues, 5);
  assert.equal(report.patients, 40);
  assert.equal(report.encounters, read.stats.resources.Encounter);
  assert.equal(report.encountersWithDiagnosisAndLabel, eligible);
  assert.equal(report.medications.occurrences, meds);
  assert.equal(report.medications.mapped, mappedMeds);
  assert.ok(report.medications.share > 0.5 && report.medications.share < 1, `share ${report.medications.share}`);
  // Every diagnosis system of the cohort is configured; the one unknown drug name is the top unmapped medication.
  assert.equal(report.diagnoses.share, 1);
  // The unknown name reaches the map as a coding (concept and contained Medication) or through a Medication's NDC.
  const unmapped = report.medications.topUnmapped;
  assert.equal(unmapped.reduce((n, u) => n + u.count, 0), meds - mappedMeds);
  for (const u of unmapped) assert.match(`${u.code}|${u.display}`, /Unlisted Cream/);
  assert.deepEqual(new Set(unmapped.map((u) => u.system)), new Set([DRUG_NAME, 'http://example.org/ndc']));
  const table = renderCoverageTable(report);
  assert.match(table, /encounters with >=1 diagnosis and >=1 label\s+\d+/);
  assert.match(table, /top unmapped medications:/);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'the report is plain JSON');
});
