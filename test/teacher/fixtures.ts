// A small seeded dataset with named codes and a planted rule (each diagnosis implies a medication class),
// so prompts read like clinical text and a teacher has something to learn.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import prand from 'pure-rand';
import type { Dataset, DatasetRecord, HistoryVisit } from '../../src/dataset/types.ts';

const DIAGNOSES: Array<[string, string, string[]]> = [
  ['icd10:I10', 'Essential hypertension', ['C09A', 'C03C']],
  ['icd10:I48', 'Atrial fibrillation', ['B01A', 'C07A']],
  ['icd10:E11', 'Type 2 diabetes mellitus', ['A10B']],
  ['icd10:I50', 'Heart failure', ['C03C', 'C07A']],
  ['icd10:J18', 'Pneumonia', ['J01D']],
  ['icd10:N17', 'Acute kidney failure', ['B05X']],
  ['icd10:K21', 'Gastro-esophageal reflux disease', ['A02B']],
  ['icd10:F32', 'Depressive episode', ['N06A']],
  ['icd10:G40', 'Epilepsy', ['N03A']],
  ['icd10:J44', 'Chronic obstructive pulmonary disease', ['R03A']],
];
const PROCEDURES: Array<[string, string]> = [
  ['icd10pcs:5A1955Z', 'Respiratory ventilation, greater than 96 consecutive hours'],
  ['icd10pcs:0BH17EZ', 'Insertion of endotracheal airway into trachea'],
  ['icd10pcs:5A1D70Z', 'Performance of urinary filtration, intermittent'],
];
export const LABEL_NAMES: Record<string, string> = {
  C09A: 'ACE inhibitors, plain',
  C03C: 'High-ceiling diuretics',
  B01A: 'Antithrombotic agents',
  C07A: 'Beta blocking agents',
  A10B: 'Blood glucose lowering drugs, excl. insulins',
  J01D: 'Other beta-lactam antibacterials',
  B05X: 'I.V. solution additives',
  A02B: 'Drugs for peptic ulcer and GORD',
  N06A: 'Antidepressants',
  N03A: 'Antiepileptics',
  R03A: 'Adrenergics, inhalants',
};
export const LABELS = Object.keys(LABEL_NAMES).sort();

export function teacherDataset(patients: number, seed = 1): Dataset {
  let rng = prand.xoroshiro128plus(seed);
  const int = (lo: number, hi: number) => {
    const [v, next] = prand.uniformIntDistribution(lo, hi, rng);
    rng = next;
    return v;
  };
  const names: Record<string, string> = { ...LABEL_NAMES, female: 'female', male: 'male' };
  for (const [t, n] of DIAGNOSES) names[t] = n;
  for (const [t, n] of PROCEDURES) names[t] = n;
  const records: DatasetRecord[] = [];
  for (let p = 0; p < patients; p++) {
    const visits = int(1, 4);
    const history: HistoryVisit[] = [];
    const profile = { sex: int(0, 1) ? 'female' : 'male', age_band: `${int(3, 8)}0-${int(3, 8)}9` };
    for (let v = 0; v < visits; v++) {
      const dx = [...new Set(Array.from({ length: int(1, 3) }, () => DIAGNOSES[int(0, DIAGNOSES.length - 1)]![0]))];
      const px = int(0, 2) === 0 ? [PROCEDURES[int(0, PROCEDURES.length - 1)]![0]] : [];
      const labels = [...new Set(dx.flatMap((d) => DIAGNOSES.find((x) => x[0] === d)![2]))].sort();
      const encounterId = `enc-${p}-${v}`;
      const start = new Date(Date.UTC(2021, 0, 1 + 40 * v + p)).toISOString();
      records.push({
        patientId: `pat-${p}`,
        encounterId,
        visitIndex: v,
        patientVisits: visits,
        start,
        profile,
        history: history.map((h) => ({ ...h })),
        diagnoses: dx,
        procedures: px,
        labels,
      });
      history.push({ encounterId, start, diagnoses: dx, procedures: px, medications: labels });
    }
  }
  const labelFrequencies: Record<string, number> = {};
  for (const r of records) for (const l of r.labels) labelFrequencies[l] = (labelFrequencies[l] ?? 0) + 1;
  return {
    header: { type: 'header', format: 'leader-dataset', version: 1, mapping: 'teacher-test', labelSpace: 'atc3', createdAt: '2024-01-01T00:00:00Z' },
    records,
    names,
    summary: {
      type: 'summary',
      patients,
      encounters: records.length,
      singleEncounterPatients: 0,
      multiEncounterPatients: 0,
      skippedEncounters: {},
      labelFrequencies,
      fingerprint: '',
    },
  };
}

/** Writes the dataset in the leader-dataset JSON-lines format, fingerprint included. */
export function writeDatasetFile(file: string, ds: Dataset): void {
  const hash = createHash('sha256');
  const lines = [JSON.stringify(ds.header)];
  for (const r of ds.records) {
    const line = JSON.stringify({ type: 'record', ...r });
    hash.update(line + '\n');
    lines.push(line);
  }
  lines.push(JSON.stringify({ type: 'names', names: ds.names }));
  lines.push(JSON.stringify({ ...ds.summary, fingerprint: hash.digest('hex') }));
  writeFileSync(file, lines.join('\n') + '\n');
}
