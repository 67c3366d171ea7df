// Encounter rules, injuries and musculoskeletal: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { DAY_MS, acuteDx, addChronic, give } from '../state.ts';
import type { ReasonRules } from './types.ts';

export const INJURIES_MUSCULOSKELETAL_RULES = {
  hipFracture: (c) => {
    const { s, rng, d, t, age, analgesic } = c;
    const dx = acuteDx(d, 'S72.001A', t);
    d.procedures.push('0QS604Z');
    analgesic(dx, true);
    give(d, 'acetaminophen', dx);
    give(d, 'cefazolin', dx);
    if (!s.anticoagulated()) give(d, 'enoxaparin', dx);
    d.held.add('vteProphylaxis');
    d.extraDays += 3;
    if (s.patient.sex === 'female' || age >= 75) addChronic(s, rng, 'osteoporosis', t + DAY_MS, null);
    return;
  },
  radiusFracture: (c) => {
    const { rng, d, t, analgesic } = c;
    const dx = acuteDx(d, 'S52.501A', t);
    analgesic(dx, rng.chance(0.3));
    return;
  },
  ankleSprain: (c) => {
    const { d, t, analgesic } = c;
    const dx = acuteDx(d, 'S93.401A', t);
    analgesic(dx, false);
    return;
  },
  concussion: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, 'S06.0X0A', t);
    d.procedures.push('B020ZZZ');
    // NSAIDs are avoided after head injury until bleeding is excluded.
    give(d, 'acetaminophen', dx);
    if (rng.chance(0.3)) give(d, 'ondansetron', dx);
    return;
  },
  backPain: (c) => {
    const { s, rng, d, t, analgesic } = c;
    const dx = acuteDx(d, 'M54.50', t);
    analgesic(dx, false);
    if (!s.has('opioid') && rng.chance(0.15)) give(d, 'tramadol', dx);
    if (rng.chance(0.15)) give(d, 'gabapentin', dx);
    return;
  },
  kneeReplacement: (c) => {
    const { s, rng, d, t, analgesic } = c;
    const dx = acuteDx(d, 'M17.11', t);
    d.procedures.push('0SRC0J9');
    give(d, 'cefazolin', dx);
    analgesic(dx, true);
    if (!s.anticoagulated()) give(d, rng.chance(0.7) ? 'enoxaparin' : 'aspirin', dx);
    d.held.add('vteProphylaxis');
    d.extraDays += 1;
    return;
  },
} satisfies ReasonRules;
