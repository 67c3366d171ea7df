// Integration check on the real MIMIC-IV demo on FHIR in ../shared (skipped when ../shared is absent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/temp-dir.ts';
import { dirname, join, resolve } from 'node:path';
import { readBulk } from '../../src/fhir/bulk-reader.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import { CoverageCollector } from '../../src/mapping/coverage.ts';
import { collectNames, recordsFromHistory } from '../../src/dataset/records.ts';
import { readDataset, writeDataset } from '../../src/dataset/io.ts';
import type { DatasetRecord } from '../../src/dataset/types.ts';

const root = resolve(import.meta.dirname, '../..');
const shared = resolve(root, '../shared');
const demo = join(shared, 'data/mimic-iv-demo-fhir');
const skip = existsSync(demo) ? false : `../shared/data/mimic-iv-demo-fhir not found at ${demo}: MIMIC-IV demo integration skipped`;

/** The shipped mapping; if the label catalog is not there yet, a copy without it (figures do not depend on names). */
function mimicMapping(): string {
  const path = join(root, 'mappings/mimic-iv-demo.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as { labels: { file?: string }; medications: { sources: Array<{ file?: string }> }; interactions: { file?: string } };
  if (config.labels.file && existsSync(resolve(dirname(path), config.labels.file))) return path;
  delete config.labels.file;
  for (const s of config.medications.sources) if (s.file) s.file = resolve(dirname(path), s.file);
  if (config.interactions.file) config.interactions.file = resolve(dirname(path), config.interactions.file);
  const copy = join(tempDir('leader-mimic-'), 'mimic-iv-demo.json');
  writeFileSync(copy, JSON.stringify(config));
  return copy;
}

test('MIMIC-IV demo: coverage and dataset figures match the data', { skip }, async () => {
  const mapping = await loadMapping(mimicMapping());
  const coverage = new CoverageCollector();
  const read = await readBulk(demo, { mapping, sink: coverage });
  const records: DatasetRecord[] = [];
  const names = new Map<string, string>();
  const skipped: Record<string, number> = {};
  for (const history of read.histories()) {
    coverage.history(history);
    collectNames(history, mapping, names);
    records.push(...recordsFromHistory(history, mapping, skipped));
  }
  const report = coverage.report(mapping, demo, read.issues);
  assert.equal(report.patients, 100);
  assert.equal(report.encounters, 275);
  assert.equal(report.encountersWithDiagnosisAndLabel, 270);
  assert.equal(report.patientsWithTwoOrMore, 47);
  assert.equal(report.diagnoses.occurrences, 4506);
  assert.equal(report.diagnoses.share, 1);
  assert.equal(report.procedures.occurrences, 722);
  // 17,552 requests less 8 with status 'unknown'; mapped by drug name (mixtures through their ingredients), NDC fallback.
  assert.equal(report.medications.occurrences, 17_544);
  assert.ok(report.medications.share > 0.9 && report.medications.share < 0.99, `medication share ${report.medications.share}`);
  assert.equal(report.issues.total, 8);
  assert.equal(report.medications.topUnmapped[0]!.code, 'Sodium Chloride 0.9% Flush');

  const out = join(tempDir('leader-mimic-ds-'), 'mimic.jsonl');
  const summary = await writeDataset(out, { mapping: mapping.name, labelSpace: mapping.labelSpace }, records, names, skipped);
  assert.equal(summary.encounters, 270);
  assert.equal(summary.patients, new Set(records.map((r) => r.patientId)).size);
  assert.equal(summary.multiEncounterPatients, 47);
  assert.equal(summary.singleEncounterPatients + summary.multiEncounterPatients, summary.patients);
  assert.ok(records.every((r) => r.diagnoses.every((d) => /^icd(9|10):[0-9A-Z]+$/.test(d))));
  assert.ok(records.some((r) => r.profile.admission_type && r.profile.race && r.profile.marital_status));
  const back = await readDataset(out);
  assert.equal(back.summary.fingerprint, summary.fingerprint);
});
