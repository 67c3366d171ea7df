// The promotion gate: a candidate replaces the served model only when it is measurably no worse on the same test split.
import type { EvaluationReport, MethodResult } from '../eval/harness.ts';

export interface GatePolicy {
  /** Largest allowed drop in mean PR-AUC and Jaccard (absolute). */
  tolerance: { prAuc: number; jaccard: number };
  /** Largest allowed rise in DDI rate (absolute); 0 = not worse. */
  ddiTolerance: number;
}

export const DEFAULT_GATE: GatePolicy = { tolerance: { prAuc: 0.005, jaccard: 0.005 }, ddiTolerance: 0 };

export interface GateDecision {
  passed: boolean;
  reasons: string[];
  candidate: { prAuc: number | null; jaccard: number | null; ddiRate: number | null };
  served?: { prAuc: number | null; jaccard: number | null; ddiRate: number | null };
}

function figures(result: MethodResult) {
  const overall = result.summary.overall;
  return { prAuc: overall.prAuc?.mean ?? null, jaccard: overall.jaccard?.mean ?? null, ddiRate: overall.ddiRate?.mean ?? null };
}

const fmt = (x: number) => x.toFixed(4);

export function promotionGate(report: EvaluationReport, candidateName: string, servedName: string | undefined, policy: GatePolicy = DEFAULT_GATE): GateDecision {
  const candidate = report.methods.find((m) => m.name === candidateName);
  if (!candidate) return { passed: false, reasons: [`the evaluation has no method "${candidateName}"`], candidate: { prAuc: null, jaccard: null, ddiRate: null } };
  const cand = figures(candidate);
  if (cand.prAuc === null || cand.jaccard === null) {
    return { passed: false, reasons: ['the candidate has no PR-AUC or Jaccard on the test split'], candidate: cand };
  }
  const served = servedName ? report.methods.find((m) => m.name === servedName) : undefined;
  if (!served) return { passed: true, reasons: ['no model is served yet: the first candidate with metrics is promoted'], candidate: cand };
  const cur = figures(served);
  const reasons: string[] = [];
  let passed = true;
  const check = (name: 'prAuc' | 'jaccard', label: string) => {
    const c = cand[name]!;
    const s = cur[name];
    if (s === null) return;
    const drop = s - c;
    if (drop > policy.tolerance[name]) {
      passed = false;
      reasons.push(`${label} ${fmt(c)} is ${fmt(drop)} below the served ${fmt(s)} (tolerance ${policy.tolerance[name]})`);
    } else reasons.push(`${label} ${fmt(c)} vs served ${fmt(s)}: within tolerance`);
  };
  check('prAuc', 'PR-AUC');
  check('jaccard', 'Jaccard');
  if (cand.ddiRate !== null && cur.ddiRate !== null) {
    if (cand.ddiRate - cur.ddiRate > policy.ddiTolerance) {
      passed = false;
      reasons.push(`DDI rate ${fmt(cand.ddiRate)} is worse than the served ${fmt(cur.ddiRate)}`);
    } else reasons.push(`DDI rate ${fmt(cand.ddiRate)} vs served ${fmt(cur.ddiRate)}: not worse`);
  }
  return { passed, reasons, candidate: cand, served: cur };
}
