import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readBulk } from '../../src/fhir/bulk-reader.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import { CoverageCollector, renderCoverageTable } from '../../src/mapping/coverage.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const root = resolve(import.meta.dirname, '../..');
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const ATC = 'http://www.whocc.no/atc';
const NDC = 'http://hl7.org/fhir/sid/ndc';

/** One patient, one encounter; resources with codes, with text only, and with nothing usable. */
function writeInput(diagnosisSystem = ICD10): string {
  const dir = tempDir('leader-honesty-');
  const enc = { reference: 'Encounter/e1' };
  const subject = { reference: 'Patient/p1' };
  const rows: unknown[] = [
    { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1950-01-01' },
    { resourceType: 'Encounter', id: 'e1', subject, status: 'finished', period: { start: '2020-01-01T00:00:00Z', end: '2020-01-03T00:00:00Z' } },
    { resourceType: 'Condition', id: 'c1', subject, encounter: enc, code: { coding: [{ system: diagnosisSystem, code: 'I10' }] } },
    { resourceType: 'Condition', id: 'c2', subject, encounter: enc, code: { coding: [{ system: diagnosisSystem, code: 'E11.9' }] } },
    { resourceType: 'Condition', id: 'c3', subject, encounter: enc, code: { text: 'high blood pressure' } },
    { resourceType: 'MedicationRequest', id: 'm1', subject, encounter: enc, status: 'completed', medicationCodeableConcept: { coding: [{ system: ATC, code: 'C09AA03' }] } },
    { resourceType: 'MedicationRequest', id: 'm2', subject, encounter: enc, status: 'completed', medicationCodeableConcept: { text: 'Warfarin 5 MG Oral Tablet' } },
    { resourceType: 'MedicationRequest', id: 'm3', subject, encounter: enc, status: 'completed', medicationCodeableConcept: { text: 'the blue pills' } },
    { resourceType: 'MedicationRequest', id: 'm4', subject, encounter: enc, status: 'completed', medicationCodeableConcept: {} },
    { resourceType: 'MedicationRequest', id: 'm5', subject, encounter: enc, status: 'completed', medicationCodeableConcept: { coding: [{ system: NDC, code: '0002-1433-8A' }] } },
  ];
  writeFileSync(join(dir, 'export.ndjson'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return dir;
}

function writeMapping(diagnosisSystem = ICD10): string {
  const dir = tempDir('leader-honesty-map-');
  writeFileSync(join(dir, 'atc.csv'), 'ingredient,atc\nwarfarin,B01AA03\nlisinopril,C09AA03\n');
  writeFileSync(join(dir, 'ndc.csv'), 'ndc,atc\n00002-1433-80,A10AB04\n');
  const path = join(dir, 'mapping.json');
  writeFileSync(
    path,
    JSON.stringify({
      name: 'honesty',
      diagnoses: { systems: [{ system: diagnosisSystem, namespace: 'icd10', normalise: 'strip-dots-uppercase' }] },
      procedures: { systems: [{ system: 'http://www.cms.gov/Medicare/Coding/ICD10', namespace: 'icd10pcs' }] },
      medications: {
        labelSpace: 'atc3',
        sources: [
          { kind: 'coding', system: ATC, transform: { prefix: 4 } },
          { kind: 'concept-map', name: 'ndc', file: 'ndc.csv', systems: [NDC], fromColumn: 'ndc', toColumn: 'atc', normalise: 'ndc', transform: { prefix: 4 } },
          { kind: 'rxnorm', ingredientAtc: 'atc.csv', transform: { prefix: 4 } },
        ],
      },
    }),
  );
  return path;
}

test('coverage: resources without a usable code are in the denominator, text-only ones are their own row', async () => {
  const mapping = await loadMapping(writeMapping());
  const coverage = new CoverageCollector();
  const input = writeInput();
  const read = await readBulk(input, { mapping, sink: coverage });
  for (const history of read.histories()) coverage.history(history);
  const report = coverage.report(mapping, input, read.issues);
  // Conditions: two coded (mapped), one with text only (no coding: skipped, still counted).
  assert.deepEqual(
    { resources: report.diagnoses.resources, noCode: report.diagnoses.noCode, mapped: report.diagnoses.mapped },
    { resources: 3, noCode: 1, mapped: 2 },
  );
  assert.equal(report.diagnoses.share, 2 / 3);
  // Medications: ATC coded (mapped), text naming a known drug (mapped by the rxnorm source), text unknown (unmapped),
  // an empty concept (no usable code), an NDC with a letter (read, never matched, counted by its concept map).
  assert.deepEqual(
    {
      resources: report.medications.resources,
      noCode: report.medications.noCode,
      textOnly: report.medications.textOnly,
      mapped: report.medications.mapped,
    },
    { resources: 5, noCode: 1, textOnly: 2, mapped: 2 },
  );
  assert.equal(report.medications.share, 2 / 5);
  const ndc = report.conceptMaps.find((m) => m.name === 'ndc');
  assert.equal(ndc?.invalidLookups, 1);
  assert.deepEqual(ndc?.invalidExamples, ['0002-1433-8A']);
  assert.deepEqual(report.warnings, [], 'every configured system seen, or nothing else left unmapped');
  const table = renderCoverageTable(report);
  assert.match(table, /medications\s+5\s+1\s+2\s+2\s+40\.0%/);
  assert.match(table, /ndc: 1 keys; 0 table rows not normalisable \(skipped\); 1 values in the data not normalisable/);
});

test('coverage: a configured system that matches nothing while other systems are present is a warning listing them', async () => {
  const mapping = await loadMapping(writeMapping('http://hl7.org/fhir/sid/icd-10-cm-TYPO'));
  const coverage = new CoverageCollector();
  const input = writeInput();
  const read = await readBulk(input, { mapping, sink: coverage });
  for (const history of read.histories()) coverage.history(history);
  const report = coverage.report(mapping, input, read.issues);
  assert.equal(report.diagnoses.mapped, 0);
  const messages = report.warnings.filter((w) => w.kind === 'diagnoses').map((w) => w.message);
  assert.equal(messages.length, 2, messages.join('\n'));
  assert.match(messages[0]!, /configured system\(s\) matching no diagnoses: http:\/\/hl7\.org\/fhir\/sid\/icd-10-cm-TYPO; systems seen: http:\/\/hl7\.org\/fhir\/sid\/icd-10-cm \(2\)/);
  assert.match(messages[1]!, /no diagnoses mapped at all \(2 read\)/);
  assert.deepEqual(report.diagnoses.systems, [{ system: ICD10, resources: 2, configured: false }]);
});

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [join(root, 'bin/leader-cds.js'), ...args], { encoding: 'utf8', cwd: root });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('mapping check --strict exits 1 on warnings; dataset build with no records exits 1 saying why and leaves no file', () => {
  const typo = writeMapping('http://hl7.org/fhir/sid/icd-10-cm-TYPO');
  const input = writeInput();
  const lenient = cli('mapping', 'check', '--mapping', typo, '--input', input);
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.match(lenient.stdout, /warnings \(2\):/);
  const strict = cli('mapping', 'check', '--mapping', typo, '--input', input, '--strict');
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /mapping check --strict: 2 warning\(s\), first: diagnoses: configured system/);
  const clean = cli('mapping', 'check', '--mapping', writeMapping(), '--input', input, '--strict');
  assert.equal(clean.code, 0, clean.stderr);

  const out = join(tempDir('leader-honesty-out-'), 'train.jsonl');
  const empty = cli('dataset', 'build', '--mapping', typo, '--input', input, '--out', out);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /no records written/);
  assert.match(empty.stderr, /no encounter had both a mapped diagnosis and a medication label/);
  assert.match(empty.stderr, /diagnoses: mapped 0\/3 \(1 without a usable code\); systems seen: http:\/\/hl7\.org\/fhir\/sid\/icd-10-cm \(2\)/);
  assert.equal(existsSync(out), false, 'no empty dataset left behind');
  const built = cli('dataset', 'build', '--mapping', writeMapping(), '--input', input, '--out', out);
  assert.equal(built.code, 0, built.stderr);
  assert.ok(existsSync(out));
});
