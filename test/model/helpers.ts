// Seeded synthetic dataset records for the student tests: labels follow the diagnoses, so a model can learn them.
import type { DatasetRecord, HistoryVisit } from '../../src/dataset/types.ts';
import { SeededRandom } from '../../src/eval/random.ts';

export interface GenOptions {
  patients: number;
  seed: number;
  diagnoses?: number;
  labels?: number;
  maxHistory?: number;
}

export function labelName(i: number): string {
  return `L${String(i).padStart(2, '0')}`;
}

/** Records where diagnosis k implies labels k mod L and (3k+1) mod L, plus noise; procedures and profile add weak signal. */
export function generateRecords(o: GenOptions): DatasetRecord[] {
  const rng = new SeededRandom(o.seed);
  const nd = o.diagnoses ?? 30;
  const nl = o.labels ?? 12;
  const maxHistory = o.maxHistory ?? 4;
  const records: DatasetRecord[] = [];
  for (let p = 0; p < o.patients; p++) {
    const patientId = `p${p}`;
    const sex = rng.float() < 0.5 ? 'female' : 'male';
    const band = String(20 + 10 * rng.int(0, 5));
    const visits = 1 + rng.int(0, maxHistory);
    const history: HistoryVisit[] = [];
    for (let v = 0; v < visits; v++) {
      const diag = [...new Set(Array.from({ length: 1 + rng.int(0, 3) }, () => rng.int(0, nd - 1)))];
      const labels = new Set<number>();
      for (const k of diag) {
        labels.add(k % nl);
        labels.add((3 * k + 1) % nl);
      }
      if (rng.float() < 0.3) labels.add(rng.int(0, nl - 1));
      if (sex === 'female' && rng.float() < 0.5) labels.add(nl - 1);
      const diagnoses = diag.map((k) => `icd10:D${k}`);
      const procedures = rng.float() < 0.6 ? [`pcs:P${rng.int(0, 9)}`] : [];
      const start = new Date(Date.UTC(2020, 0, 1 + 30 * v)).toISOString();
      const encounterId = `${patientId}-e${v}`;
      const labelList = [...labels].sort((a, b) => a - b).map(labelName);
      records.push({
        patientId,
        encounterId,
        visitIndex: v,
        patientVisits: visits,
        start,
        profile: { sex, age_band: band },
        history: history.map((h) => ({ ...h })),
        diagnoses,
        procedures,
        labels: labelList,
      });
      history.push({ encounterId, start, diagnoses, procedures, medications: labelList });
    }
  }
  return records;
}

import type { StudentConfig } from '../../src/model/student/config.ts';

/** Tiny shapes keep the tests to seconds. */
export const tinyConfig: StudentConfig = { dim: 16, heads: 2, ffn: 24, hidden: 8, maxVisits: 4, maxCodes: 6, epsilon: 1e-5, recency: 'none', wide: 'none' };
