// The synthetic patient's state between encounters and the encounter being drafted, with the small actions the
// encounter rules take on them (record a diagnosis, give a drug, hold risky drugs, start a chronic condition).
// Shared by the generator (src/synth/clinical.ts) and the per-area encounter rules (src/synth/reasons/).
import type { SimCondition, SimPatient } from './clinical.ts';
import type { DiagnosisCode, Drug, ProcedureCode } from './facts.ts';
import type { Rng } from './random.ts';

export const DAY_MS = 86_400_000;

/** Chronic condition families; each maps to the code recorded at onset and repeated later. */
export type Chronic =
  | 'htn' | 'dm2' | 'dm1' | 'hld' | 'cad' | 'af' | 'hf' | 'ckd3' | 'ckd4' | 'ckd5' | 'esrd' | 'copd' | 'asthma'
  | 'hypothyroid' | 'hyperthyroid' | 'depression' | 'anxiety' | 'insomnia' | 'schizophrenia' | 'bipolar' | 'adhd'
  | 'epilepsy' | 'migraine' | 'alzheimer' | 'gout' | 'oa' | 'ra' | 'osteoporosis' | 'gerd' | 'bph' | 'glaucoma'
  | 'ida' | 'smoker' | 'alcohol' | 'opioid' | 'obesity' | 'osa' | 'oldMi' | 'strokeHx' | 'vteHx' | 'exSmoker';

export const CHRONIC_CODE: Record<Chronic, DiagnosisCode> = {
  htn: 'I10', dm2: 'E11.9', dm1: 'E10.9', hld: 'E78.5', cad: 'I25.10', af: 'I48.91', hf: 'I50.22',
  ckd3: 'N18.30', ckd4: 'N18.4', ckd5: 'N18.5', esrd: 'N18.6', copd: 'J44.9', asthma: 'J45.909',
  hypothyroid: 'E03.9', hyperthyroid: 'E05.90', depression: 'F32.9', anxiety: 'F41.1', insomnia: 'G47.00',
  schizophrenia: 'F20.9', bipolar: 'F31.9', adhd: 'F90.9', epilepsy: 'G40.909', migraine: 'G43.909',
  alzheimer: 'G30.9', gout: 'M10.9', oa: 'M19.90', ra: 'M06.9', osteoporosis: 'M81.0', gerd: 'K21.9',
  bph: 'N40.0', glaucoma: 'H40.9', ida: 'D50.9', smoker: 'F17.210', alcohol: 'F10.20', opioid: 'F11.20',
  obesity: 'E66.9', osa: 'G47.33', oldMi: 'I25.2', strokeHx: 'Z86.73', vteHx: 'Z86.718', exSmoker: 'Z87.891',
};

export interface ActiveCondition {
  record: SimCondition;
  /** Stable per-patient variant draws (e.g. paroxysmal vs unspecified AF), so coding stays consistent. */
  variant: number;
}

/** Everything the model remembers about a patient between encounters. */
export class PatientState {
  readonly active = new Map<Chronic, ActiveCondition>();
  /** Current home medications by therapeutic role; a role keeps its drug while it stays allowed. */
  readonly regimen = new Map<string, Drug>();
  aceIntolerant = false;
  statinIntolerant = false;
  sulfonylureaHypo = false;
  penicillinAllergy = false;
  giBleedHistory = false;
  anticoagHoldUntil = 0;
  /** End of temporary anticoagulation after VTE (ms), 0 when none. */
  vteAnticoagUntil = 0;
  /** End of dual antiplatelet therapy after a coronary event (ms). */
  daptUntil = 0;
  dm2Uncontrolled = false;
  pregnancyStartMs = 0;
  pregnancyGdm = false;
  pregnancyHtn = false;
  lastEncounterDrugs = new Set<Drug>();
  /** Per-patient propensity to get a second antihypertensive, an NSAID, etc.; fixed for the patient. */
  readonly trait: Record<string, number> = {};

  constructor(readonly patient: SimPatient, private readonly rng: Rng) {}

  has(c: Chronic): boolean {
    return this.active.has(c);
  }

  trait01(name: string): number {
    let v = this.trait[name];
    if (v === undefined) {
      v = this.rng.next();
      this.trait[name] = v;
    }
    return v;
  }

  ckdStage(): number {
    if (this.has('esrd')) return 6;
    if (this.has('ckd5')) return 5;
    if (this.has('ckd4')) return 4;
    if (this.has('ckd3')) return 3;
    return 0;
  }

  pregnant(atMs: number): boolean {
    return this.pregnancyStartMs > 0 && atMs >= this.pregnancyStartMs && atMs < this.pregnancyStartMs + 287 * DAY_MS;
  }

  anticoagulated(): boolean {
    return this.regimen.has('anticoag');
  }
}

export const anyDrug = (s: PatientState, drugs: readonly Drug[]): boolean => {
  for (const d of s.regimen.values()) if (drugs.includes(d)) return true;
  return false;
};
export const NSAIDS: readonly Drug[] = ['naproxen', 'ibuprofen', 'celecoxib', 'ketorolac'];
export const ACE: readonly Drug[] = ['lisinopril', 'enalapril', 'ramipril'];
export const ARB: readonly Drug[] = ['losartan', 'valsartan'];
export const STATINS: readonly Drug[] = ['atorvastatin', 'simvastatin', 'rosuvastatin', 'pravastatin'];
export const ANTIBIOTICS: readonly Drug[] = [
  'amoxicillin', 'cephalexin', 'cefazolin', 'ceftriaxone', 'azithromycin', 'clindamycin', 'ciprofloxacin',
  'levofloxacin', 'doxycycline', 'vancomycin', 'metronidazole', 'nitrofurantoin',
];

export interface Draft {
  conditions: SimCondition[];
  procedures: ProcedureCode[];
  acute: Array<{ drug: Drug; reason?: number }>;
  /** Home-medication roles not given at this encounter (held). */
  held: Set<string>;
  extraDays: number;
}

export function acuteDx(d: Draft, code: DiagnosisCode, startMs: number): number {
  d.conditions.push({ code, kind: 'acute', onsetMs: startMs });
  return d.conditions.length - 1;
}

export function give(d: Draft, drug: Drug, reason?: number): void {
  d.acute.push(reason === undefined ? { drug } : { drug, reason });
}

export function stopAce(s: PatientState, d: Draft): void {
  s.aceIntolerant = true;
  for (const role of ['htn1', 'htn2', 'hfRas']) {
    const drug = s.regimen.get(role);
    if (drug && ACE.includes(drug)) {
      s.regimen.delete(role);
      d.held.add(role);
    }
  }
}

export function holdBleedingRisk(s: PatientState, d: Draft, rng: Rng, t: number): void {
  for (const role of ['anticoag', 'antiplatelet', 'p2y12', 'nsaid']) d.held.add(role);
  s.regimen.delete('nsaid');
  // Anticoagulation resumes later for most, after a pause.
  s.anticoagHoldUntil = t + Math.floor(rng.uniform(14, 120) * DAY_MS);
  if (rng.chance(0.2)) s.vteAnticoagUntil = Math.min(s.vteAnticoagUntil, t);
}

/** Adds a chronic condition that begins at an encounter (onset recorded there) or right after it (recorded next time). */
export function addChronic(s: PatientState, rng: Rng, c: Chronic, onsetMs: number, d: Draft | null): void {
  if (s.has(c)) return;
  const record: SimCondition = { code: CHRONIC_CODE[c], kind: 'onset', onsetMs };
  s.active.set(c, { record, variant: rng.next() });
  if (d) {
    record.recorded = true;
    d.conditions.push(record);
  }
}
