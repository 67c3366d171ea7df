// Test fixture: a deterministic medication model. It really computes each probability from the record
// (a logistic score over weighted tokens, earlier medications and age band), so occlusion and thresholds behave
// like a real model's; it is not the LEADER student.
import type { DatasetRecord } from '../../src/dataset/types.ts';
import type { LabelInfo, MedicationModel } from '../../src/service/hooks/ports.ts';
import { labelCatalog } from './hooks-mapping.ts';

const weights: Record<string, Record<string, number>> = {
  'icd10:I4891': { B01A: 4.5, C07A: 2.5 },
  'icd10:I10': { C09A: 4, C07A: 1.5 },
  'icd10:E119': { A10B: 5, C10A: 2.5 },
  'icd10:K219': { A02B: 5 },
  'icd10:M545': { M01A: 4, N02B: 3.5 },
  'icd10:J029': { J01C: 4.5, N02B: 1 },
  'sct:232717009': { B01A: 1.5, C10A: 1.5 },
};

export class FixtureModel implements MedicationModel {
  readonly version = 'fixture-1';
  readonly labels = Object.keys(labelCatalog).sort();
  readonly threshold: number = 0.5;
  calls = 0;
  batchSizes: number[] = [];

  labelInfo(label: string): LabelInfo | undefined {
    return labelCatalog[label];
  }

  async predict(records: DatasetRecord[]): Promise<Float32Array[]> {
    this.calls += 1;
    this.batchSizes.push(records.length);
    return records.map((r) => {
      const logits = new Float32Array(this.labels.length).fill(-3);
      const add = (token: string, scale: number) => {
        const w = weights[token];
        if (!w) return;
        this.labels.forEach((label, i) => {
          logits[i]! += (w[label] ?? 0) * scale;
        });
      };
      for (const t of r.diagnoses) add(t, 1);
      for (const t of r.procedures) add(t, 1);
      for (const v of r.history) {
        for (const t of v.diagnoses) add(t, 0.3);
        for (const m of v.medications) {
          const i = this.labels.indexOf(m);
          if (i >= 0) logits[i]! += 2;
        }
      }
      const band = Number.parseInt(r.profile.age_band ?? '0', 10);
      if (band >= 60) logits[this.labels.indexOf('C10A')]! += 1;
      return logits.map((z) => 1 / (1 + Math.exp(-z)));
    });
  }
}
