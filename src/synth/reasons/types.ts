// The encounter rule table's types: one rule per encounter reason, grouped by clinical area in this folder.
import type { EncounterClass } from '../clinical.ts';
import type { Rng } from '../random.ts';
import type { Draft, PatientState } from '../state.ts';

/** Every reason an encounter can have (the weighted reasons of src/synth/clinical.ts and the pregnancy visits). */
export type ReasonName =
  | 'followup'
  | 'pneumonia' | 'uti' | 'cellulitis' | 'uri' | 'pharyngitis' | 'sinusitis' | 'otitis' | 'influenza' | 'covid'
  | 'gastroenteritis' | 'cdiff' | 'sepsis'
  | 'nstemi' | 'chestPain' | 'stroke' | 'tia' | 'dvt' | 'pe' | 'hfExacerbation' | 'syncope'
  | 'copdExacerbation' | 'asthmaExacerbation'
  | 'giBleed' | 'appendicitis' | 'cholecystitis' | 'pancreatitis'
  | 'aki' | 'hypoglycemia' | 'hypokalemia' | 'goutFlare'
  | 'hipFracture' | 'radiusFracture' | 'ankleSprain' | 'concussion' | 'backPain' | 'kneeReplacement'
  | 'headache' | 'alcoholWithdrawal' | 'opioidOverdose'
  | 'anticoagBleed' | 'aceAngioedema' | 'aceCough' | 'statinMyopathy' | 'penicillinRash' | 'allergicReaction'
  | 'prenatal' | 'hyperemesis' | 'pregnancyUti' | 'preeclampsia' | 'delivery';

/** What a rule sees: the patient, the encounter being drafted, and facts derived once per encounter. */
export interface ReasonContext {
  reason: ReasonName;
  cls: EncounterClass;
  s: PatientState;
  rng: Rng;
  d: Draft;
  /** Encounter start (ms). */
  t: number;
  age: number;
  /** Weeks of pregnancy at the encounter; 0 when not pregnant. */
  gestWeeks: number;
  child: boolean;
  /** Inpatient encounter. */
  imp: boolean;
  penAllergy: boolean;
  pregnant: boolean;
  /** Pain relief for diagnosis `dx`: an opioid when strong, then an NSAID where safe, else acetaminophen. */
  analgesic(dx: number, strong: boolean): void;
}

export type ReasonRule = (c: ReasonContext) => void;

/** Part of the table (one clinical area). */
export type ReasonRules = Partial<Record<ReasonName, ReasonRule>>;
