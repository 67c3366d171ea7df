// The generative clinical model of the synthetic cohort: who the patients are, what happens at each encounter,
// and what gets prescribed. Deliberately not a co-occurrence table: drug choice depends on combinations of
// conditions, on age, sex and pregnancy, on what the patient was already taking, and on adverse events recorded
// at earlier encounters, so that models using history and interactions of inputs have something to find.
import type { DiagnosisCode, Drug, ProcedureCode } from './facts.ts';
import type { Rng } from './random.ts';
import { isReasonName, REASON_RULES, type ReasonContext } from './reasons/index.ts';
import {
  ACE,
  ARB,
  CHRONIC_CODE,
  DAY_MS,
  NSAIDS,
  PatientState,
  STATINS,
  ANTIBIOTICS,
  anyDrug,
  give,
  type ActiveCondition,
  type Chronic,
  type Draft,
} from './state.ts';

export { DAY_MS };
const YEAR_MS = 365.25 * DAY_MS;
/** First encounters fall in [2012-01-01, 2023-07-01). */
const FIRST_START = Date.UTC(2012, 0, 1);
const FIRST_SPAN = Date.UTC(2023, 6, 1) - FIRST_START;
const COVID_FROM = Date.UTC(2020, 2, 1);

export type EncounterClass = 'IMP' | 'EMER' | 'AMB';
export type AdmitSource = 'emd' | 'gp' | 'outp' | 'hosp-trans' | 'nursing' | 'born' | 'other';
export type Race = '2106-3' | '2054-5' | '2028-9' | '1002-5' | '2076-8';
export type Language = 'en' | 'es' | 'zh' | 'vi' | 'ar' | 'ru';
export type Marital = 'S' | 'M' | 'D' | 'W' | 'L' | 'T';

/** A condition as recorded: once at onset (problem list), or as a diagnosis of one encounter. */
export interface SimCondition {
  code: DiagnosisCode;
  /** onset: chronic condition first recorded here; repeat: chronic condition coded again; acute: this encounter only. */
  kind: 'onset' | 'repeat' | 'acute';
  onsetMs: number;
  abatementMs?: number;
  /** Set once the onset record has been placed at an encounter. */
  recorded?: boolean;
}

export interface SimMedication {
  drug: Drug;
  /** Continued home medication (vs. an order for this encounter's problem). */
  chronic: boolean;
  /** Index into the encounter's conditions that the order treats, when known. */
  reason?: number;
}

export interface SimEncounter {
  index: number;
  class: EncounterClass;
  admitSource: AdmitSource;
  startMs: number;
  endMs: number;
  reason: string;
  conditions: SimCondition[];
  procedures: ProcedureCode[];
  medications: SimMedication[];
}

export interface SimPatient {
  index: number;
  sex: 'female' | 'male';
  birthMs: number;
  race?: Race;
  hispanic: boolean;
  language: Language;
  marital: Marital;
  encounters: SimEncounter[];
}


const CKD_STAGES: Chronic[] = ['ckd3', 'ckd4', 'ckd5', 'esrd'];



function ageAt(p: SimPatient, ms: number): number {
  return (ms - p.birthMs) / YEAR_MS;
}

/** Baseline prevalence of a chronic family for this patient at this age (before comorbidity multipliers). */
function prevalence(c: Chronic, s: PatientState, age: number): number {
  const female = s.patient.sex === 'female';
  const adult = age >= 18;
  const band = (a: number, b: number, cc: number, d: number): number => (age < 18 ? a : age < 45 ? b : age < 65 ? cc : d);
  switch (c) {
    case 'smoker': return adult ? 0.16 : age >= 15 ? 0.04 : 0;
    case 'exSmoker': return age >= 40 && !s.has('smoker') ? 0.12 : 0;
    case 'obesity': return adult ? 0.2 : 0.06;
    case 'htn': return band(0.01, 0.12, 0.35, 0.58) * (s.has('obesity') ? 1.3 : 1) * (s.patient.race === '2054-5' ? 1.25 : 1);
    case 'dm2': return s.has('dm1') ? 0 : band(0.003, 0.05, 0.15, 0.22) * (s.has('obesity') ? 2 : 1);
    case 'dm1': return s.has('dm2') ? 0 : 0.006;
    case 'hld': return band(0, 0.08, 0.3, 0.45) * (s.has('dm2') ? 1.5 : 1);
    case 'cad': return band(0, 0.01, 0.07, 0.2) * (s.has('dm2') || s.has('dm1') ? 1.8 : 1) * (s.has('smoker') ? 1.5 : 1) * (s.has('htn') ? 1.3 : 1);
    case 'af': return band(0, 0.003, 0.025, 0.12) * (s.has('htn') ? 1.5 : 1);
    case 'hf': return band(0, 0.003, 0.03, 0.09) * (s.has('cad') ? 2 : 1) * (s.has('af') ? 1.5 : 1);
    case 'ckd3': return band(0, 0.01, 0.05, 0.12) * (s.has('dm2') ? 2 : 1) * (s.has('htn') ? 1.5 : 1);
    case 'ckd4': case 'ckd5': case 'esrd': return 0; // reached by progression from stage 3 (or drawn with it)
    case 'copd': return age < 40 ? 0 : (age < 65 ? 0.03 : 0.08) * (s.has('smoker') || s.has('exSmoker') ? 4 : 1);
    case 'asthma': return age < 18 ? 0.09 : 0.07;
    case 'hypothyroid': return adult ? (female ? 0.08 : 0.02) * (age >= 65 ? 1.5 : 1) : 0.005;
    case 'hyperthyroid': return adult && age < 65 && !s.has('hypothyroid') ? (female ? 0.012 : 0.003) : 0;
    case 'depression': return adult ? (female ? 0.13 : 0.08) : age >= 12 ? 0.04 : 0;
    case 'anxiety': return adult ? (female ? 0.1 : 0.06) : age >= 10 ? 0.03 : 0;
    case 'insomnia': return adult ? (age >= 65 ? 0.1 : 0.05) : 0;
    case 'schizophrenia': return adult ? 0.008 : 0;
    case 'bipolar': return adult ? 0.012 : 0;
    case 'adhd': return age >= 6 && age < 30 ? (female ? 0.03 : 0.07) : 0;
    case 'epilepsy': return 0.01;
    case 'migraine': return age >= 12 && age < 60 ? (female ? 0.1 : 0.04) : 0;
    case 'alzheimer': return age >= 80 ? 0.15 : age >= 65 ? 0.05 : 0;
    case 'gout': return (female ? (age >= 60 ? 0.02 : 0) : age >= 40 ? 0.06 : 0) * (s.ckdStage() > 0 ? 2 : 1);
    case 'oa': return age >= 65 ? 0.3 : age >= 50 ? 0.15 : 0;
    case 'ra': return adult ? (female ? 0.015 : 0.006) : 0;
    case 'osteoporosis': return female ? (age >= 60 ? 0.2 : 0) : age >= 70 ? 0.04 : 0;
    case 'gerd': return adult ? 0.12 : 0.02;
    case 'bph': return female ? 0 : age >= 70 ? 0.4 : age >= 50 ? 0.2 : 0;
    case 'glaucoma': return age >= 60 ? 0.05 : 0;
    case 'ida': return female && age >= 15 && age < 50 ? 0.05 : 0.015;
    case 'alcohol': return adult && age < 75 ? (female ? 0.015 : 0.04) : 0;
    case 'opioid': return adult && age < 65 ? 0.015 : 0;
    case 'osa': return adult && age >= 30 ? (s.has('obesity') ? 0.25 : 0.03) : 0;
    case 'oldMi': case 'strokeHx': case 'vteHx': return 0; // only after the acute event
  }
}

// Drawn in this order so that multipliers can look at families drawn earlier.
const BASELINE_ORDER: Chronic[] = [
  'smoker', 'exSmoker', 'obesity', 'dm1', 'dm2', 'htn', 'hld', 'cad', 'af', 'hf', 'ckd3', 'copd', 'asthma',
  'hypothyroid', 'hyperthyroid', 'depression', 'anxiety', 'insomnia', 'schizophrenia', 'bipolar', 'adhd',
  'epilepsy', 'migraine', 'alzheimer', 'gout', 'oa', 'ra', 'osteoporosis', 'gerd', 'bph', 'glaucoma', 'ida',
  'alcohol', 'opioid', 'osa',
];

/** Which chronic families may resolve, and how likely per year. */
const ABATE_PER_YEAR: Partial<Record<Chronic, number>> = {
  depression: 0.25, anxiety: 0.2, insomnia: 0.3, ida: 0.5, gerd: 0.1, hyperthyroid: 0.4, smoker: 0.12,
  alcohol: 0.1, opioid: 0.1, migraine: 0.05, obesity: 0.05,
};

// ---------------------------------------------------------------------------------------------------------------
// Encounter reasons

interface Reason {
  name: string;
  /** Relative weight given the patient's state; 0 = impossible. */
  weight(s: PatientState, age: number, atMs: number): number;
  /** [inpatient, emergency, ambulatory] shares. */
  classes: readonly [number, number, number];
}


const REASONS: Reason[] = [
  { name: 'followup', classes: [0, 0, 1], weight: (s) => (s.active.size > 0 ? 0.3 : 0.05) },
  { name: 'pneumonia', classes: [0.65, 0.2, 0.15], weight: (s, a) => 0.06 * (a >= 65 ? 2 : 1) * (s.has('copd') ? 2 : 1) },
  { name: 'uti', classes: [0.15, 0.45, 0.4], weight: (s, a) => 0.05 * (s.patient.sex === 'female' ? 2 : 0.6) * (a >= 65 ? 1.5 : 1) },
  { name: 'cellulitis', classes: [0.35, 0.35, 0.3], weight: (s) => 0.03 * (s.has('dm2') || s.has('dm1') ? 2 : 1) },
  { name: 'uri', classes: [0, 0.4, 0.6], weight: (_s, a) => 0.05 * (a < 18 ? 2.5 : 1) },
  { name: 'pharyngitis', classes: [0, 0.4, 0.6], weight: (_s, a) => 0.035 * (a < 30 ? 2 : 1) },
  { name: 'sinusitis', classes: [0, 0.2, 0.8], weight: (_s, a) => (a >= 5 ? 0.025 : 0) },
  { name: 'otitis', classes: [0, 0.4, 0.6], weight: (_s, a) => (a < 12 ? 0.12 : 0) },
  { name: 'influenza', classes: [0.15, 0.5, 0.35], weight: () => 0.025 },
  { name: 'covid', classes: [0.4, 0.35, 0.25], weight: (_s, a, t) => (t >= COVID_FROM ? 0.04 * (a >= 65 ? 1.5 : 1) : 0) },
  { name: 'gastroenteritis', classes: [0.1, 0.6, 0.3], weight: (_s, a) => 0.035 * (a < 12 ? 1.8 : 1) },
  { name: 'cdiff', classes: [0.6, 0.35, 0.05], weight: (s) => (s.lastEncounterDrugs.size > 0 && [...s.lastEncounterDrugs].some((d) => ANTIBIOTICS.includes(d)) ? 0.09 : 0.001) },
  { name: 'sepsis', classes: [1, 0, 0], weight: (s, a) => 0.015 * (a >= 65 ? 2 : 1) * (s.has('dm2') ? 1.5 : 1) * (s.ckdStage() > 0 ? 1.5 : 1) },
  { name: 'nstemi', classes: [1, 0, 0], weight: (s, a) => (a < 30 ? 0 : 0.012 * (s.has('cad') ? 3 : 1) * (s.has('dm2') ? 1.5 : 1) * (s.has('smoker') ? 1.5 : 1) * (a < 45 ? 0.2 : 1)) },
  { name: 'chestPain', classes: [0.2, 0.7, 0.1], weight: (_s, a) => (a >= 18 ? 0.035 : 0.003) },
  { name: 'stroke', classes: [1, 0, 0], weight: (s, a) => (a < 30 ? 0 : 0.01 * (s.has('af') && !s.anticoagulated() ? 4 : 1) * (a >= 65 ? 2 : 1)) },
  { name: 'tia', classes: [0.5, 0.5, 0], weight: (_s, a) => (a >= 40 ? 0.008 : 0) },
  { name: 'dvt', classes: [0.3, 0.5, 0.2], weight: (_s, a) => (a >= 18 ? 0.008 : 0) },
  { name: 'pe', classes: [1, 0, 0], weight: (s, a, t) => (a >= 18 ? 0.006 * (s.pregnant(t) ? 3 : 1) : 0) },
  { name: 'hfExacerbation', classes: [0.85, 0.15, 0], weight: (s) => (s.has('hf') ? 0.25 : 0) },
  { name: 'copdExacerbation', classes: [0.6, 0.3, 0.1], weight: (s) => (s.has('copd') ? 0.22 : 0) },
  { name: 'asthmaExacerbation', classes: [0.2, 0.6, 0.2], weight: (s) => (s.has('asthma') ? 0.12 : 0) },
  { name: 'giBleed', classes: [0.9, 0.1, 0], weight: (s, a) => (a < 18 ? 0 : 0.006 + (s.anticoagulated() ? 0.04 : 0) + (anyDrug(s, NSAIDS) ? 0.04 : 0) + (s.regimen.has('antiplatelet') ? 0.015 : 0) + (s.has('alcohol') ? 0.02 : 0)) },
  { name: 'aki', classes: [0.85, 0.15, 0], weight: (s, a) => (a < 18 ? 0 : 0.006 + (anyDrug(s, [...ACE, ...ARB]) && s.regimen.has('diuretic') && anyDrug(s, NSAIDS) ? 0.15 : 0) + (s.ckdStage() > 0 ? 0.03 : 0) + (a >= 65 ? 0.01 : 0)) },
  { name: 'hypoglycemia', classes: [0.3, 0.6, 0.1], weight: (s) => (s.regimen.has('basalInsulin') || s.regimen.get('dmOral') === 'glipizide' ? 0.06 : 0) },
  { name: 'hypokalemia', classes: [0.4, 0.4, 0.2], weight: (s) => (s.regimen.get('diuretic') === 'furosemide' || s.regimen.get('htn2') === 'hydrochlorothiazide' || s.regimen.get('htn1') === 'hydrochlorothiazide' ? 0.04 : 0) },
  { name: 'hipFracture', classes: [1, 0, 0], weight: (s, a) => (a >= 65 ? 0.02 * (s.has('osteoporosis') ? 2.5 : 1) * (s.patient.sex === 'female' ? 1.5 : 1) : 0) },
  { name: 'radiusFracture', classes: [0.05, 0.8, 0.15], weight: (s, a) => 0.012 * (s.has('osteoporosis') ? 2 : 1) * (a < 16 ? 1.5 : 1) },
  { name: 'ankleSprain', classes: [0, 0.6, 0.4], weight: (_s, a) => 0.02 * (a < 50 ? 2 : 0.5) },
  { name: 'concussion', classes: [0.1, 0.85, 0.05], weight: (_s, a) => 0.012 * (a < 30 ? 2 : 1) },
  { name: 'appendicitis', classes: [1, 0, 0], weight: (_s, a) => 0.01 * (a >= 5 && a < 40 ? 2 : 0.6) },
  { name: 'cholecystitis', classes: [1, 0, 0], weight: (s, a) => (a >= 18 ? 0.01 * (s.patient.sex === 'female' ? 1.5 : 1) * (s.has('obesity') ? 1.5 : 1) : 0) },
  { name: 'pancreatitis', classes: [1, 0, 0], weight: (s, a) => (a >= 18 ? 0.005 * (s.has('alcohol') ? 8 : 1) : 0) },
  { name: 'allergicReaction', classes: [0.05, 0.8, 0.15], weight: () => 0.012 },
  { name: 'syncope', classes: [0.4, 0.6, 0], weight: (_s, a) => 0.012 * (a >= 65 ? 2 : 1) },
  { name: 'headache', classes: [0.02, 0.6, 0.38], weight: (s, a) => (a >= 8 ? 0.015 * (s.has('migraine') ? 6 : 1) : 0) },
  { name: 'backPain', classes: [0.02, 0.4, 0.58], weight: (_s, a) => (a >= 18 ? 0.03 : 0) },
  { name: 'alcoholWithdrawal', classes: [0.85, 0.15, 0], weight: (s) => (s.has('alcohol') ? 0.3 : 0) },
  { name: 'opioidOverdose', classes: [0.4, 0.6, 0], weight: (s) => (s.has('opioid') ? 0.15 : 0) },
  { name: 'goutFlare', classes: [0.1, 0.5, 0.4], weight: (s) => (s.has('gout') ? 0.15 : 0) },
  { name: 'kneeReplacement', classes: [1, 0, 0], weight: (s, a) => (s.has('oa') && a >= 55 && a < 85 ? 0.06 : 0) },
  { name: 'aceAngioedema', classes: [0.2, 0.8, 0], weight: (s) => (anyDrug(s, ACE) ? 0.02 * (s.patient.race === '2054-5' ? 3 : 1) : 0) },
  { name: 'aceCough', classes: [0, 0, 1], weight: (s) => (anyDrug(s, ACE) ? 0.035 : 0) },
  { name: 'statinMyopathy', classes: [0.1, 0.3, 0.6], weight: (s) => (anyDrug(s, STATINS) ? 0.03 : 0) },
  { name: 'penicillinRash', classes: [0, 0.6, 0.4], weight: (s) => (s.lastEncounterDrugs.has('amoxicillin') && !s.penicillinAllergy ? 0.2 : 0) },
  { name: 'anticoagBleed', classes: [0.8, 0.2, 0], weight: (s) => (s.anticoagulated() ? 0.035 : 0) },
];

// ---------------------------------------------------------------------------------------------------------------
// Patient generation

/** Simulates one patient's whole record. Pure function of the stream (the Rng) and the limits. */
export function simulatePatient(rng: Rng, index: number, maxEncounters: number): SimPatient {
  const sex: SimPatient['sex'] = rng.chance(0.51) ? 'female' : 'male';
  const ageBand = rng.weighted<[number, number]>([
    [[0, 18], 0.12],
    [[18, 45], 0.25],
    [[45, 65], 0.3],
    [[65, 95], 0.33],
  ]);
  const firstStart = FIRST_START + Math.floor(rng.next() * FIRST_SPAN);
  const age0 = rng.uniform(ageBand[0], ageBand[1]);
  // Birth dates are whole days.
  const birthMs = Math.floor((firstStart - age0 * YEAR_MS) / DAY_MS) * DAY_MS;
  const race = rng.weighted<Race | undefined>([
    ['2106-3', 0.6], ['2054-5', 0.18], ['2028-9', 0.07], ['1002-5', 0.02], ['2076-8', 0.01], [undefined, 0.12],
  ]);
  const hispanic = rng.chance(race === '2106-3' || race === undefined ? 0.2 : 0.03);
  const language = hispanic
    ? rng.weighted<Language>([['es', 0.55], ['en', 0.45]])
    : race === '2028-9'
      ? rng.weighted<Language>([['en', 0.6], ['zh', 0.25], ['vi', 0.15]])
      : rng.weighted<Language>([['en', 0.96], ['ar', 0.02], ['ru', 0.02]]);
  const marital: Marital =
    age0 < 18
      ? 'S'
      : rng.weighted<Marital>([
          ['M', 0.48], ['S', age0 < 35 ? 0.45 : 0.15], ['D', age0 >= 35 ? 0.13 : 0.03], ['W', age0 >= 65 ? 0.25 : 0.01],
          ['L', 0.02], ['T', 0.03],
        ]);
  const patient: SimPatient = { index, sex, birthMs, race, hispanic, language, marital, encounters: [] };
  const state = new PatientState(patient, rng);

  // Baseline chronic conditions at the first encounter, with onsets months to years before it.
  for (const c of BASELINE_ORDER) {
    if (rng.chance(prevalence(c, state, age0))) {
      const onsetMs = Math.max(birthMs + DAY_MS, firstStart - Math.floor(rng.uniform(30, 3650) * DAY_MS));
      state.active.set(c, { record: { code: CHRONIC_CODE[c], kind: 'onset', onsetMs }, variant: rng.next() });
    }
  }
  if (state.has('ckd3') && rng.chance(0.35)) {
    const stage = rng.weighted<Chronic>([['ckd4', 0.55], ['ckd5', 0.15], ['esrd', 0.3]]);
    const prev = state.active.get('ckd3')!;
    state.active.delete('ckd3');
    state.active.set(stage, { record: { code: CHRONIC_CODE[stage], kind: 'onset', onsetMs: prev.record.onsetMs }, variant: prev.variant });
  }

  const sicker = state.active.size >= 2 || age0 >= 65;
  const single = rng.chance(sicker ? 0.3 : 0.55);
  const count = single ? 1 : Math.min(maxEncounters, 2 + Math.floor(-Math.log(1 - rng.next()) * (sicker ? 3.2 : 1.8)));

  let t = firstStart;
  for (let e = 0; e < count; e++) {
    if (e > 0) {
      const prev = patient.encounters[e - 1]!;
      const pregnantNow = state.pregnant(prev.endMs);
      const gapDays = pregnantNow ? rng.uniform(21, 70) : Math.exp(rng.uniform(Math.log(10), Math.log(sicker ? 400 : 700)));
      t = prev.endMs + Math.floor(gapDays * DAY_MS);
      const years = gapDays / 365.25;
      progress(state, rng, t, years);
    }
    patient.encounters.push(buildEncounter(state, rng, e, t));
  }
  return patient;
}

/** Time passes between encounters: new chronic onsets, stage progression, remissions, end of temporary therapy. */
function progress(s: PatientState, rng: Rng, t: number, years: number): void {
  const age = ageAt(s.patient, t);
  for (const c of BASELINE_ORDER) {
    if (s.has(c) || c === 'exSmoker') continue;
    if (c === 'ckd3' && s.ckdStage() > 0) continue;
    const p = Math.min(0.5, prevalence(c, s, age) * 0.06 * years);
    if (p > 0 && rng.chance(p)) {
      const onsetMs = t - Math.floor(rng.uniform(1, Math.max(2, years * 300)) * DAY_MS);
      s.active.set(c, { record: { code: CHRONIC_CODE[c], kind: 'onset', onsetMs }, variant: rng.next() });
    }
  }
  // CKD progresses one stage at a time; the earlier stage's record is closed when the next is recorded.
  const stage = s.ckdStage();
  if (stage >= 3 && stage < 6 && rng.chance(Math.min(0.6, 0.18 * years * (s.has('dm2') ? 1.5 : 1)))) {
    const from = CKD_STAGES[stage - 3]!;
    const to = CKD_STAGES[stage - 2]!;
    const old = s.active.get(from)!;
    old.record.abatementMs = t - DAY_MS;
    s.active.delete(from);
    s.active.set(to, { record: { code: CHRONIC_CODE[to], kind: 'onset', onsetMs: t - DAY_MS }, variant: old.variant });
  }
  for (const [c, a] of [...s.active]) {
    const rate = ABATE_PER_YEAR[c];
    if (rate && rng.chance(Math.min(0.8, rate * years))) {
      a.record.abatementMs = t - Math.floor(rng.uniform(1, Math.max(2, years * 200)) * DAY_MS);
      s.active.delete(c);
      if (c === 'smoker' && !s.has('exSmoker')) {
        s.active.set('exSmoker', { record: { code: 'Z87.891', kind: 'onset', onsetMs: a.record.abatementMs }, variant: 0 });
      }
    }
  }
  if (s.dm2Uncontrolled === false && s.has('dm2') && rng.chance(Math.min(0.5, 0.1 * years))) s.dm2Uncontrolled = true;
  if (s.pregnancyStartMs > 0 && !s.pregnant(t)) {
    s.pregnancyStartMs = 0;
    s.pregnancyGdm = false;
    s.pregnancyHtn = false;
  }
}




function buildEncounter(s: PatientState, rng: Rng, index: number, startMs0: number): SimEncounter {
  // Start at a plausible time of day.
  const startMs = Math.floor(startMs0 / DAY_MS) * DAY_MS + rng.int(6 * 60, 22 * 60) * 60_000;
  const age = ageAt(s.patient, startMs);
  const female = s.patient.sex === 'female';
  const d: Draft = { conditions: [], procedures: [], acute: [], held: new Set(), extraDays: 0 };

  // Pregnancy: women of child-bearing age may be pregnant at this encounter (begun before it).
  if (female && age >= 16 && age < 45 && s.pregnancyStartMs === 0 && !s.has('alzheimer') && rng.chance(0.1)) {
    s.pregnancyStartMs = startMs - Math.floor(rng.uniform(6, 36) * 7 * DAY_MS);
    s.pregnancyGdm = rng.chance(s.has('obesity') ? 0.15 : 0.06);
    s.pregnancyHtn = rng.chance(0.07);
  }
  const pregnant = s.pregnant(startMs);
  const gestWeeks = pregnant ? (startMs - s.pregnancyStartMs) / (7 * DAY_MS) : 0;

  let reasonName: string;
  let cls: EncounterClass;
  if (pregnant) {
    reasonName = gestWeeks >= 37 ? 'delivery' : rng.weighted([['prenatal', 0.6], ['hyperemesis', gestWeeks < 16 ? 0.25 : 0], ['pregnancyUti', 0.12], ['preeclampsia', gestWeeks >= 20 && s.pregnancyHtn ? 0.3 : 0]] as const);
    cls = reasonName === 'delivery' || reasonName === 'preeclampsia' ? 'IMP' : reasonName === 'prenatal' ? 'AMB' : rng.chance(0.5) ? 'EMER' : 'AMB';
  } else {
    const reason = rng.weighted(REASONS.map((r) => [r, r.weight(s, age, startMs)] as const));
    reasonName = reason.name;
    const [pi, pe] = reason.classes;
    const x = rng.next();
    cls = x < pi ? 'IMP' : x < pi + pe ? 'EMER' : 'AMB';
  }

  applyReason(reasonName, cls, s, rng, d, startMs, age, gestWeeks);

  // Chronic conditions: onsets recorded at this encounter; the rest coded again, fully for admissions.
  const repeatP = cls === 'IMP' ? 0.9 : cls === 'EMER' ? 0.45 : 0.5;
  for (const [c, a] of s.active) {
    if (a.record.onsetMs > startMs) continue; // begins during this stay: first recorded next time
    if (!a.record.recorded) {
      a.record.recorded = true;
      d.conditions.push(a.record);
      continue;
    }
    if (d.conditions.some((x) => x.code === CHRONIC_CODE[c])) continue;
    if (rng.chance(repeatP)) d.conditions.push({ code: repeatCode(c, s, a, startMs), kind: 'repeat', onsetMs: a.record.onsetMs });
  }
  if (pregnant && s.has('htn')) d.conditions.push({ code: 'O10.019', kind: 'acute', onsetMs: startMs });

  // Home medications, re-chosen from the current state (continuity: a role keeps its drug while allowed).
  updateRegimen(s, rng, startMs, age, pregnant);
  statusCodes(s, d, cls, startMs, rng);

  const meds: SimMedication[] = [];
  const seen = new Set<Drug>();
  const add = (m: SimMedication): void => {
    if (seen.has(m.drug)) return;
    seen.add(m.drug);
    meds.push(m);
  };
  for (const a of d.acute) add({ drug: a.drug, chronic: false, ...(a.reason === undefined ? {} : { reason: a.reason }) });
  const continueP = cls === 'IMP' ? 0.88 : cls === 'EMER' ? 0.3 : reasonName === 'followup' ? 0.9 : 0.45;
  for (const [role, drug] of s.regimen) {
    if (d.held.has(role)) continue;
    if (cls === 'IMP' && (role === 'dmOral' || role === 'sglt2') && rng.chance(0.7)) {
      // Oral antidiabetics are usually held in hospital and replaced by correctional insulin.
      add({ drug: 'insulinLispro', chronic: false });
      continue;
    }
    if (rng.chance(continueP)) add({ drug, chronic: true });
  }
  if (cls === 'IMP') {
    if (!s.anticoagulated() && !d.held.has('vteProphylaxis') && rng.chance(0.6)) add({ drug: s.ckdStage() >= 4 ? 'heparin' : 'enoxaparin', chronic: false });
    if (rng.chance(0.45)) add({ drug: 'acetaminophen', chronic: false });
    if (rng.chance(0.2)) add({ drug: 'ondansetron', chronic: false });
    if (s.has('dm1') && rng.chance(0.9)) add({ drug: 'insulinLispro', chronic: false });
  }

  // Label noise: omissions and spurious additions, a few percent.
  const kept = meds.filter(() => !rng.chance(0.03));
  if (rng.chance(0.05)) {
    const drug = rng.pick(NOISE_DRUGS);
    if (!kept.some((m) => m.drug === drug)) kept.push({ drug, chronic: false });
  }

  const durationMs =
    cls === 'IMP'
      ? Math.floor((rng.uniform(1, 6) + d.extraDays) * DAY_MS)
      : cls === 'EMER'
        ? rng.int(2 * 60, 10 * 60) * 60_000
        : rng.int(20, 60) * 60_000;
  s.lastEncounterDrugs = new Set(kept.map((m) => m.drug));
  return {
    index,
    class: cls,
    admitSource: admitSourceFor(cls, reasonName, age, rng),
    startMs,
    endMs: startMs + durationMs,
    reason: reasonName,
    conditions: d.conditions,
    procedures: [...new Set(d.procedures)],
    medications: kept,
  };
}

/** Drugs that show up as spurious orders (label noise), weighted towards common ward drugs by repetition. */
const NOISE_DRUGS: readonly Drug[] = [
  'acetaminophen', 'acetaminophen', 'ondansetron', 'pantoprazole', 'potassiumChloride', 'sodiumChloride', 'enoxaparin',
  'famotidine', 'lorazepam', 'diphenhydramine', 'ceftriaxone', 'albuterol', 'metoclopramide', 'lactulose', 'morphine',
  'oxycodone', 'cetirizine', 'trazodone', 'calciumCarbonate', 'folicAcid', 'fluconazole', 'acyclovir', 'tacrolimus',
];

function admitSourceFor(cls: EncounterClass, reason: string, age: number, rng: Rng): AdmitSource {
  if (cls === 'EMER') return 'emd';
  if (cls === 'AMB') return rng.chance(0.8) ? 'gp' : 'outp';
  if (reason === 'kneeReplacement' || reason === 'delivery') return rng.chance(0.85) ? 'outp' : 'gp';
  if (age >= 80 && rng.chance(0.2)) return 'nursing';
  return rng.weighted<AdmitSource>([['emd', 0.75], ['gp', 0.1], ['hosp-trans', 0.08], ['outp', 0.05], ['other', 0.02]]);
}

/** The code a chronic condition gets when coded again, reflecting comorbidity combination codes. */
function repeatCode(c: Chronic, s: PatientState, a: ActiveCondition, _t: number): DiagnosisCode {
  switch (c) {
    case 'htn': {
      const stage = s.ckdStage();
      if (stage >= 5) return 'I12.0';
      if (stage >= 3) return 'I12.9';
      if (s.has('hf')) return 'I11.0';
      return 'I10';
    }
    case 'dm2':
      if (s.ckdStage() >= 3 && a.variant < 0.7) return 'E11.22';
      if (s.dm2Uncontrolled) return 'E11.65';
      return 'E11.9';
    case 'af':
      return a.variant < 0.35 ? 'I48.0' : 'I48.91';
    case 'depression':
      return a.variant < 0.4 ? 'F33.1' : 'F32.9';
    case 'oa':
      return a.variant < 0.45 ? 'M17.11' : 'M19.90';
    default:
      return CHRONIC_CODE[c];
  }
}

function statusCodes(s: PatientState, d: Draft, cls: EncounterClass, t: number, rng: Rng): void {
  const p = cls === 'IMP' ? 0.75 : 0.3;
  const status = (code: DiagnosisCode): void => {
    if (rng.chance(p) && !d.conditions.some((c) => c.code === code)) d.conditions.push({ code, kind: 'acute', onsetMs: t });
  };
  if (s.anticoagulated()) status('Z79.01');
  if (s.regimen.has('basalInsulin') && (s.has('dm2') || s.has('dm1'))) status('Z79.4');
  if (s.regimen.has('dmOral')) status('Z79.84');
  if (s.penicillinAllergy) status('Z88.0');
  if (s.ckdStage() === 6) status('Z99.2');
  if (s.ckdStage() >= 4 && s.regimen.has('esa')) status('D63.1');
}

// ---------------------------------------------------------------------------------------------------------------
// Home regimen

function keepOr(s: PatientState, role: string, allowed: readonly Drug[], choose: () => Drug): void {
  const cur = s.regimen.get(role);
  if (cur !== undefined && allowed.includes(cur)) return;
  s.regimen.set(role, choose());
}

function updateRegimen(s: PatientState, rng: Rng, t: number, age: number, pregnant: boolean): void {
  const r = s.regimen;
  const stage = s.ckdStage();
  const severeCkd = stage >= 4;
  const asthma = s.has('asthma');
  const black = s.patient.race === '2054-5';
  const drop = (...roles: string[]): void => roles.forEach((x) => r.delete(x));
  const diabetic = s.has('dm2') || s.has('dm1');

  // Renin-angiotensin blockade: ACE inhibitor unless intolerant, severe CKD or pregnant; ARB as the switch.
  const rasAllowed: Drug[] = pregnant || severeCkd ? [] : s.aceIntolerant ? [...ARB] : [...ACE, ...ARB];
  const chooseRas = (): Drug => (s.aceIntolerant ? rng.pick(ARB) : rng.chance(0.85) ? rng.pick(ACE) : rng.pick(ARB));

  // Hypertension (and heart failure, which takes its own RAS role).
  if (s.has('htn')) {
    if (pregnant) {
      keepOr(s, 'htn1', ['labetalol', 'nifedipine', 'methyldopa'], () => rng.weighted<Drug>([['labetalol', 0.55], ['nifedipine', 0.35], ['methyldopa', 0.1]]));
      drop('htn2');
    } else {
      const wantRas = diabetic || stage > 0 || s.has('hf') || (!black && s.trait01('htnFirst') < 0.75);
      if (wantRas && rasAllowed.length > 0) keepOr(s, 'htn1', rasAllowed, chooseRas);
      else {
        const alt: Drug[] = stage >= 4 ? ['amlodipine'] : ['amlodipine', 'hydrochlorothiazide'];
        keepOr(s, 'htn1', alt, () => rng.pick(alt));
      }
      if (s.trait01('htnSecond') < 0.45 && t - s.active.get('htn')!.record.onsetMs > 365 * DAY_MS) {
        const first = r.get('htn1')!;
        const second: Drug[] = first === 'amlodipine' ? (rasAllowed.length ? [chooseRasStable(s, rasAllowed)] : ['hydralazine']) : stage >= 4 ? ['hydralazine', 'amlodipine'] : ['amlodipine', 'hydrochlorothiazide'];
        keepOr(s, 'htn2', second.filter((x) => x !== first), () => rng.pick(second.filter((x) => x !== first).length ? second.filter((x) => x !== first) : ['amlodipine']));
      }
    }
  } else drop('htn1', 'htn2');

  // Diabetes.
  if (s.has('dm2')) {
    const oral: Drug[] = severeCkd ? ['sitagliptin'] : s.sulfonylureaHypo ? ['metformin', 'sitagliptin'] : ['metformin', 'glipizide', 'sitagliptin'];
    if (pregnant) drop('dmOral', 'sglt2');
    else keepOr(s, 'dmOral', oral, () => (oral.includes('metformin') && rng.chance(0.8) ? 'metformin' : rng.pick(oral)));
    if (!pregnant && (s.has('hf') || s.has('cad')) && stage < 5 && s.trait01('sglt2') < 0.6) keepOr(s, 'sglt2', ['empagliflozin'], () => 'empagliflozin');
    else drop('sglt2');
    if (s.dm2Uncontrolled || severeCkd || pregnant) keepOr(s, 'basalInsulin', ['insulinGlargine'], () => 'insulinGlargine');
    else drop('basalInsulin');
  } else if (s.has('dm1')) {
    keepOr(s, 'basalInsulin', ['insulinGlargine'], () => 'insulinGlargine');
    keepOr(s, 'bolusInsulin', ['insulinLispro'], () => 'insulinLispro');
    drop('dmOral', 'sglt2');
  } else if (pregnant && s.pregnancyGdm) {
    keepOr(s, 'basalInsulin', ['insulinGlargine'], () => 'insulinGlargine');
  } else drop('dmOral', 'sglt2', 'basalInsulin', 'bolusInsulin');

  // Lipids: statins for adults with hyperlipidaemia, CAD, stroke history or diabetes over 40; never under 18 or pregnant.
  const statinIndicated = age >= 18 && !pregnant && (s.has('hld') || s.has('cad') || s.has('strokeHx') || (diabetic && age >= 40));
  if (statinIndicated && !(s.statinIntolerant && s.trait01('statinRechallenge') < 0.5)) {
    const allowed: Drug[] = s.statinIntolerant ? ['rosuvastatin', 'pravastatin'] : [...STATINS];
    keepOr(s, 'statin', allowed, () => (s.statinIntolerant ? rng.pick(allowed) : rng.weighted<Drug>([['atorvastatin', 0.55], ['simvastatin', 0.2], ['rosuvastatin', 0.2], ['pravastatin', 0.05]])));
  } else drop('statin');

  // Anticoagulation: AF with risk factors, or a recent VTE. Warfarin in end-stage renal disease, LMWH in pregnancy.
  const afNeeds = s.has('af') && (age >= 65 || s.has('htn') || diabetic || s.has('hf') || s.has('strokeHx') || s.trait01('afAnticoag') < 0.3);
  const vteNeeds = t < s.vteAnticoagUntil;
  if ((afNeeds || vteNeeds) && t >= s.anticoagHoldUntil) {
    const allowed: Drug[] = pregnant ? ['enoxaparin'] : stage >= 5 ? ['warfarin'] : ['apixaban', 'rivaroxaban', 'warfarin'];
    keepOr(s, 'anticoag', allowed, () => (allowed.length === 1 ? allowed[0]! : rng.weighted<Drug>([['apixaban', 0.5], ['rivaroxaban', 0.28], ['warfarin', 0.22]])));
  } else drop('anticoag');

  // Antiplatelets: CAD or stroke history; aspirin is usually dropped once anticoagulated. P2Y12 after an event.
  if ((s.has('cad') || s.has('strokeHx')) && age >= 18) {
    if (!s.anticoagulated() || s.trait01('tripleTherapy') < 0.25) keepOr(s, 'antiplatelet', ['aspirin'], () => 'aspirin');
    else drop('antiplatelet');
  } else drop('antiplatelet');
  if (t < s.daptUntil) keepOr(s, 'p2y12', s.anticoagulated() ? ['clopidogrel'] : ['clopidogrel', 'ticagrelor'], () => (s.anticoagulated() ? 'clopidogrel' : rng.chance(0.6) ? 'ticagrelor' : 'clopidogrel'));
  else drop('p2y12');

  // Rate control and rhythm for AF; beta-blockers for CAD and heart failure; diltiazem when asthmatic, never with HF.
  const bbAllowed: Drug[] = asthma ? [] : s.has('hf') ? ['carvedilol', 'metoprolol'] : ['metoprolol', 'atenolol', 'carvedilol'];
  if (s.has('af') || s.has('cad') || s.has('hf') || (s.has('hyperthyroid') && !asthma)) {
    if (s.has('hyperthyroid') && !s.has('af') && !s.has('cad') && !s.has('hf')) keepOr(s, 'rate', ['propranolol'], () => 'propranolol');
    else if (bbAllowed.length > 0 && !(s.has('af') && !s.has('hf') && s.trait01('rateCcb') < 0.35)) keepOr(s, 'rate', bbAllowed, () => rng.pick(bbAllowed));
    else if (!s.has('hf') && s.has('af')) keepOr(s, 'rate', ['diltiazem'], () => 'diltiazem');
    else drop('rate');
  } else drop('rate');
  if (s.has('af') && s.trait01('amiodarone') < 0.15) keepOr(s, 'rhythm', ['amiodarone'], () => 'amiodarone');
  else drop('rhythm');

  // Heart failure: loop diuretic, RAS blockade, MRA unless severe CKD, digoxin for some.
  if (s.has('hf')) {
    keepOr(s, 'diuretic', ['furosemide'], () => 'furosemide');
    if (rasAllowed.length > 0 && !r.has('htn1')) keepOr(s, 'hfRas', rasAllowed, chooseRas);
    else if (rasAllowed.length === 0 || r.has('htn1')) drop('hfRas');
    if (!severeCkd && !pregnant && s.trait01('mra') < 0.55) keepOr(s, 'mra', ['spironolactone'], () => 'spironolactone');
    else drop('mra');
    if (s.trait01('digoxin') < 0.18) keepOr(s, 'digoxin', ['digoxin'], () => 'digoxin');
    else drop('digoxin');
  } else drop('diuretic', 'hfRas', 'mra', 'digoxin');

  // Renal: erythropoiesis-stimulating agent and phosphate binder in advanced CKD.
  if (stage >= 4 && s.trait01('esa') < 0.6) keepOr(s, 'esa', ['epoetinAlfa'], () => 'epoetinAlfa');
  else drop('esa');
  if (stage >= 5 && s.trait01('binder') < 0.6) keepOr(s, 'binder', ['calciumCarbonate'], () => 'calciumCarbonate');
  else if (!s.has('osteoporosis')) drop('binder');

  // Airways.
  if (s.has('copd')) {
    keepOr(s, 'lama', ['tiotropium'], () => 'tiotropium');
    keepOr(s, 'saba', ['albuterol'], () => 'albuterol');
    if (s.trait01('copdIcs') < 0.4) keepOr(s, 'ics', ['fluticasone', 'budesonide'], () => rng.pick<Drug>(['fluticasone', 'budesonide']));
  } else drop('lama');
  if (s.has('asthma')) {
    keepOr(s, 'saba', ['albuterol'], () => 'albuterol');
    if (s.trait01('asthmaIcs') < 0.6) keepOr(s, 'ics', ['fluticasone', 'budesonide'], () => rng.pick<Drug>(['fluticasone', 'budesonide']));
    if (s.trait01('montelukast') < 0.3) keepOr(s, 'ltra', ['montelukast'], () => 'montelukast');
  } else drop('ltra');
  if (!s.has('copd') && !s.has('asthma')) drop('saba', 'ics');

  // Thyroid. Methimazole is avoided early in pregnancy (propylthiouracil instead).
  if (s.has('hypothyroid')) keepOr(s, 'thyroid', ['levothyroxine'], () => 'levothyroxine');
  else if (s.has('hyperthyroid')) {
    const allowed: Drug[] = pregnant ? ['propylthiouracil'] : ['methimazole'];
    keepOr(s, 'thyroid', allowed, () => allowed[0]!);
  } else drop('thyroid');

  // Mental health.
  const elderly = age >= 65;
  if (s.has('depression') || s.has('anxiety')) {
    const ad: Drug[] = age < 18 ? ['fluoxetine', 'sertraline', 'escitalopram'] : elderly ? ['sertraline', 'escitalopram', 'mirtazapine'] : ['sertraline', 'escitalopram', 'fluoxetine', 'citalopram', 'bupropion', 'duloxetine'];
    const adAllowed = s.has('anxiety') && !s.has('depression') ? ad.filter((x) => x !== 'bupropion') : ad;
    if (s.trait01('antidepressant') < 0.85) keepOr(s, 'antidepressant', adAllowed, () => rng.pick(adAllowed));
    else drop('antidepressant');
    if (s.has('anxiety') && !elderly && !s.has('opioid') && s.trait01('benzo') < 0.25) keepOr(s, 'anxiolytic', ['alprazolam', 'lorazepam'], () => rng.pick<Drug>(['alprazolam', 'lorazepam']));
    else if (s.has('anxiety') && s.trait01('buspirone') < 0.2) keepOr(s, 'anxiolytic', ['buspirone'], () => 'buspirone');
    else drop('anxiolytic');
  } else drop('antidepressant', 'anxiolytic');
  if (s.has('insomnia')) {
    const allowed: Drug[] = elderly || r.has('anxiolytic') ? ['trazodone'] : ['zolpidem', 'trazodone'];
    keepOr(s, 'hypnotic', allowed, () => rng.pick(allowed));
  } else drop('hypnotic');
  if (s.has('schizophrenia') || s.has('bipolar')) keepOr(s, 'antipsychotic', ['olanzapine', 'risperidone', 'quetiapine', 'haloperidol'], () => rng.weighted<Drug>([['quetiapine', 0.35], ['olanzapine', 0.3], ['risperidone', 0.25], ['haloperidol', 0.1]]));
  else drop('antipsychotic');
  // Valproate is avoided in women who could become pregnant.
  const childBearing = s.patient.sex === 'female' && age >= 12 && age < 50;
  if (s.has('bipolar')) keepOr(s, 'moodStabilizer', childBearing ? ['lamotrigine'] : ['valproicAcid', 'lamotrigine'], () => (childBearing ? 'lamotrigine' : rng.chance(0.6) ? 'valproicAcid' : 'lamotrigine'));
  else drop('moodStabilizer');
  if (s.has('epilepsy')) {
    const allowed: Drug[] = childBearing ? ['levetiracetam', 'lamotrigine'] : ['levetiracetam', 'valproicAcid', 'lamotrigine', 'phenytoin'];
    keepOr(s, 'antiepileptic', allowed, () => (rng.chance(0.6) ? 'levetiracetam' : rng.pick(allowed)));
  } else drop('antiepileptic');
  if (s.has('adhd') && age >= 6) keepOr(s, 'stimulant', ['methylphenidate'], () => 'methylphenidate');
  else drop('stimulant');
  if (s.has('alzheimer')) {
    keepOr(s, 'dementia', ['donepezil'], () => 'donepezil');
    if (s.trait01('memantine') < 0.4) keepOr(s, 'dementia2', ['memantine'], () => 'memantine');
  } else drop('dementia', 'dementia2');
  // Migraine: triptans are contraindicated with coronary or cerebrovascular disease; topiramate prophylaxis not in pregnancy.
  if (s.has('migraine')) {
    if (!s.has('cad') && !s.has('strokeHx')) keepOr(s, 'triptan', ['sumatriptan'], () => 'sumatriptan');
    else drop('triptan');
    if (!pregnant && s.trait01('topiramate') < 0.3) keepOr(s, 'migraineProphylaxis', ['topiramate'], () => 'topiramate');
    else drop('migraineProphylaxis');
  } else drop('triptan', 'migraineProphylaxis');

  // Musculoskeletal. NSAIDs unless anticoagulated, GI bleed history, CKD, heart failure or very old (a few slip through).
  const nsaidContra = s.anticoagulated() || s.giBleedHistory || stage > 0 || s.has('hf') || age >= 80 || pregnant;
  if (s.has('oa') || s.has('ra')) {
    keepOr(s, 'analgesic', ['acetaminophen'], () => 'acetaminophen');
    if ((!nsaidContra || s.trait01('nsaidDespite') < 0.08) && s.trait01('nsaid') < 0.6) keepOr(s, 'nsaid', ['naproxen', 'ibuprofen', 'celecoxib'], () => rng.weighted<Drug>([['naproxen', 0.45], ['ibuprofen', 0.35], ['celecoxib', 0.2]]));
    else drop('nsaid');
    if (nsaidContra && !s.has('opioid') && s.trait01('tramadol') < 0.3) keepOr(s, 'weakOpioid', ['tramadol'], () => 'tramadol');
    else drop('weakOpioid');
  } else drop('analgesic', 'nsaid', 'weakOpioid');
  if (s.has('ra')) {
    if (!pregnant && !severeCkd) {
      keepOr(s, 'dmard', ['methotrexate'], () => 'methotrexate');
      keepOr(s, 'folate', ['folicAcid'], () => 'folicAcid');
    } else {
      keepOr(s, 'dmard', ['hydroxychloroquine'], () => 'hydroxychloroquine');
      drop('folate');
    }
    if (s.trait01('raSteroid') < 0.3) keepOr(s, 'steroid', ['prednisone'], () => 'prednisone');
    else drop('steroid');
  } else drop('dmard', 'folate', 'steroid');
  if (s.has('gout') && s.trait01('allopurinol') < 0.7) keepOr(s, 'urate', ['allopurinol'], () => 'allopurinol');
  else drop('urate');
  if (s.has('osteoporosis')) {
    if (!severeCkd) keepOr(s, 'bisphosphonate', ['alendronate'], () => 'alendronate');
    else drop('bisphosphonate');
    keepOr(s, 'binder', ['calciumCarbonate'], () => 'calciumCarbonate');
  } else drop('bisphosphonate');

  // GI, GU, eye, blood.
  if (s.has('gerd') || (s.giBleedHistory && s.trait01('ppiAfterBleed') < 0.7) || (r.has('antiplatelet') && r.has('anticoag'))) keepOr(s, 'acid', ['omeprazole', 'pantoprazole', 'famotidine'], () => rng.weighted<Drug>([['omeprazole', 0.5], ['pantoprazole', 0.3], ['famotidine', 0.2]]));
  else drop('acid');
  if (s.has('bph')) keepOr(s, 'bph', ['tamsulosin'], () => 'tamsulosin');
  else drop('bph');
  if (s.has('glaucoma')) {
    keepOr(s, 'glaucoma', ['latanoprost'], () => 'latanoprost');
    // Topical beta-blockers are avoided in asthma.
    if (!asthma && s.trait01('timolol') < 0.35) keepOr(s, 'glaucoma2', ['timolol'], () => 'timolol');
    else drop('glaucoma2');
  } else drop('glaucoma', 'glaucoma2');
  if (s.has('ida') || (pregnant && s.trait01('prenatalIron') < 0.3)) keepOr(s, 'iron', ['ferrousSulfate'], () => 'ferrousSulfate');
  else drop('iron');
  if (pregnant) keepOr(s, 'folate', ['folicAcid'], () => 'folicAcid');
  else if (!s.has('ra') && !s.has('alcohol')) drop('folate');

  // Substance use.
  if (s.has('opioid') && s.trait01('mat') < 0.6) {
    keepOr(s, 'mat', ['buprenorphine'], () => 'buprenorphine');
    if (s.trait01('naloxoneKit') < 0.5) keepOr(s, 'naloxone', ['naloxone'], () => 'naloxone');
  } else drop('mat', 'naloxone');
  if (s.has('smoker') && s.trait01('nrt') < 0.35) keepOr(s, 'nrt', ['nicotine'], () => 'nicotine');
  else drop('nrt');
  if (s.has('alcohol') && s.trait01('alcoholFolate') < 0.5) keepOr(s, 'folate', ['folicAcid'], () => 'folicAcid');
}

function chooseRasStable(s: PatientState, allowed: readonly Drug[]): Drug {
  // A second agent that is a RAS blocker: reuse whatever RAS drug the patient already takes, else the first allowed.
  for (const d of s.regimen.values()) if (allowed.includes(d)) return d;
  return allowed[0]!;
}

// ---------------------------------------------------------------------------------------------------------------
// What happens for each reason

function applyReason(reason: string, cls: EncounterClass, s: PatientState, rng: Rng, d: Draft, t: number, age: number, gestWeeks: number): void {
  if (!isReasonName(reason)) throw new Error(`unknown encounter reason ${reason}`);
  const pregnant = gestWeeks > 0;
  const context: ReasonContext = {
    reason,
    cls,
    s,
    rng,
    d,
    t,
    age,
    gestWeeks,
    child: age < 18,
    imp: cls === 'IMP',
    penAllergy: s.penicillinAllergy,
    pregnant,
    analgesic: (dx: number, strong: boolean): void => {
      const nsaidOk = !s.anticoagulated() && !s.giBleedHistory && s.ckdStage() === 0 && !s.has('hf') && !pregnant && age < 80;
      if (strong && !s.has('opioid')) give(d, rng.weighted<Drug>([['morphine', 0.35], ['hydromorphone', 0.35], ['oxycodone', 0.3]]), dx);
      else if (strong) give(d, 'ketorolac', dx);
      if (nsaidOk && rng.chance(0.6)) give(d, age < 12 || rng.chance(0.6) ? 'ibuprofen' : 'naproxen', dx);
      else give(d, 'acetaminophen', dx);
    },
  };
  REASON_RULES[reason](context);
}



