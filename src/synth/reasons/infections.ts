// Encounter rules, infections: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { acuteDx, give } from '../state.ts';
import type { Drug } from '../facts.ts';
import type { ReasonRules } from './types.ts';

export const INFECTIONS_RULES = {
  pneumonia: (c) => {
    const { rng, d, t, child, imp, penAllergy } = c;
    const dx = acuteDx(d, 'J18.9', t);
    d.procedures.push('BW03ZZZ');
    if (imp) {
      if (penAllergy && rng.chance(0.7)) give(d, 'levofloxacin', dx);
      else {
        give(d, 'ceftriaxone', dx);
        give(d, 'azithromycin', dx);
      }
      if (rng.chance(0.08)) {
        const rf = acuteDx(d, 'J96.01', t);
        d.procedures.push('0BH17EZ', rng.chance(0.6) ? '5A1945Z' : '5A1955Z');
        give(d, 'propofol', rf);
        give(d, 'fentanyl', rf);
        give(d, 'pantoprazole', rf);
        d.extraDays += 5;
      }
      if (rng.chance(0.05)) d.procedures.push('0W9930Z');
    } else if (child) give(d, penAllergy ? 'azithromycin' : 'amoxicillin', dx);
    else give(d, penAllergy ? 'doxycycline' : rng.weighted<Drug>([['amoxicillin', 0.45], ['doxycycline', 0.35], ['azithromycin', 0.2]]), dx);
    return;
  },
  uti: (c) => {
    const { s, rng, d, t, age, child, imp } = c;
    const dx = acuteDx(d, 'N39.0', t);
    if (imp) give(d, 'ceftriaxone', dx);
    else if (child || s.ckdStage() >= 3) give(d, 'cephalexin', dx);
    else if (s.patient.sex === 'female') give(d, rng.chance(0.8) ? 'nitrofurantoin' : 'cephalexin', dx);
    else give(d, 'ciprofloxacin', dx);
    if (imp && age >= 75 && rng.chance(0.3)) d.procedures.push('0T9B70Z');
    return;
  },
  cellulitis: (c) => {
    const { rng, d, t, imp, penAllergy } = c;
    const dx = acuteDx(d, rng.chance(0.5) ? 'L03.115' : 'L03.116', t);
    if (imp) give(d, penAllergy ? 'vancomycin' : rng.chance(0.6) ? 'cefazolin' : 'vancomycin', dx);
    else give(d, penAllergy ? 'clindamycin' : 'cephalexin', dx);
    return;
  },
  uri: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, 'J06.9', t);
    if (rng.chance(0.5)) give(d, 'acetaminophen', dx);
    if (rng.chance(0.15)) give(d, 'cetirizine', dx);
    if (rng.chance(0.08)) give(d, 'amoxicillin', dx); // inappropriate but common
    return;
  },
  pharyngitis: (c) => {
    const { rng, d, t, child, penAllergy } = c;
    const dx = acuteDx(d, 'J02.9', t);
    if (rng.chance(0.65)) give(d, penAllergy ? 'azithromycin' : 'amoxicillin', dx);
    if (rng.chance(0.4)) give(d, child ? 'acetaminophen' : 'ibuprofen', dx);
    return;
  },
  sinusitis: (c) => {
    const { rng, d, t, child, penAllergy } = c;
    const dx = acuteDx(d, 'J01.90', t);
    if (rng.chance(0.55)) give(d, penAllergy ? (child ? 'azithromycin' : 'doxycycline') : 'amoxicillin', dx);
    if (rng.chance(0.3)) give(d, 'fluticasone', dx);
    return;
  },
  otitis: (c) => {
    const { rng, d, t, penAllergy } = c;
    const dx = acuteDx(d, 'H66.90', t);
    give(d, penAllergy ? 'azithromycin' : 'amoxicillin', dx);
    give(d, rng.chance(0.5) ? 'ibuprofen' : 'acetaminophen', dx);
    return;
  },
  influenza: (c) => {
    const { rng, d, t, age, imp } = c;
    const dx = acuteDx(d, 'J11.1', t);
    if (rng.chance(age >= 65 || imp ? 0.85 : 0.5)) give(d, 'oseltamivir', dx);
    give(d, 'acetaminophen', dx);
    return;
  },
  covid: (c) => {
    const { s, d, t, imp } = c;
    const dx = acuteDx(d, 'U07.1', t);
    if (imp) {
      give(d, 'dexamethasone', dx);
      give(d, s.anticoagulated() ? 'acetaminophen' : 'enoxaparin', dx);
      d.procedures.push('BW03ZZZ');
    } else give(d, 'acetaminophen', dx);
    return;
  },
  gastroenteritis: (c) => {
    const { cls, rng, d, t } = c;
    const dx = acuteDx(d, 'A09', t);
    give(d, 'ondansetron', dx);
    if (cls !== 'AMB' || rng.chance(0.2)) give(d, 'sodiumChloride', dx);
    if (rng.chance(0.4)) acuteDx(d, 'E86.0', t);
    return;
  },
  cdiff: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, 'A04.72', t);
    give(d, 'vancomycin', dx);
    if (rng.chance(0.2)) give(d, 'metronidazole', dx);
    return;
  },
  sepsis: (c) => {
    const { rng, d, t, penAllergy } = c;
    const source = rng.weighted([['uti', 0.4], ['pneumonia', 0.4], ['cellulitis', 0.2]] as const);
    const sepsis = acuteDx(d, 'A41.9', t);
    const shock = rng.chance(0.3);
    acuteDx(d, shock ? 'R65.21' : 'R65.20', t);
    const src = acuteDx(d, source === 'uti' ? 'N39.0' : source === 'pneumonia' ? 'J18.9' : rng.chance(0.5) ? 'L03.115' : 'L03.116', t);
    give(d, 'vancomycin', sepsis);
    give(d, penAllergy && source === 'pneumonia' ? 'levofloxacin' : 'ceftriaxone', src);
    if (source === 'pneumonia' && !penAllergy) give(d, 'azithromycin', src);
    give(d, 'sodiumChloride', sepsis);
    if (shock) {
      give(d, 'norepinephrine', sepsis);
      if (rng.chance(0.4)) give(d, 'hydrocortisone', sepsis);
      d.procedures.push('02HV33Z');
      if (rng.chance(0.3)) {
        d.procedures.push('0BH17EZ', '5A1945Z');
        give(d, 'propofol', sepsis);
      }
    }
    d.extraDays += 3;
    return;
  },
} satisfies ReasonRules;
