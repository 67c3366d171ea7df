// Encounter rules, digestive and surgical abdomen: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { NSAIDS, acuteDx, anyDrug, give, holdBleedingRisk } from '../state.ts';
import type { ReasonRules } from './types.ts';

export const DIGESTIVE_RULES = {
  giBleed: (c) => {
    const { s, rng, d, t } = c;
    const dx = acuteDx(d, 'K92.2', t);
    if (anyDrug(s, NSAIDS)) acuteDx(d, 'T39.395A', t);
    if (rng.chance(0.5)) {
      acuteDx(d, 'D62', t);
      d.procedures.push('30233N1');
    }
    d.procedures.push(rng.chance(0.75) ? '0DJ08ZZ' : '0DJD8ZZ');
    if (rng.chance(0.3)) d.procedures.push('0W3P8ZZ');
    give(d, 'pantoprazole', dx);
    give(d, 'sodiumChloride', dx);
    holdBleedingRisk(s, d, rng, t);
    s.giBleedHistory = true;
    return;
  },
  appendicitis: (c) => {
    const { d, t, analgesic } = c;
    const dx = acuteDx(d, 'K35.80', t);
    d.procedures.push('BW25ZZZ', '0DTJ4ZZ');
    give(d, 'ceftriaxone', dx);
    give(d, 'metronidazole', dx);
    analgesic(dx, true);
    give(d, 'ondansetron', dx);
    return;
  },
  cholecystitis: (c) => {
    const { rng, d, t, penAllergy, analgesic } = c;
    const dx = acuteDx(d, 'K80.00', t);
    d.procedures.push('0FT44ZZ');
    give(d, penAllergy ? 'levofloxacin' : 'ceftriaxone', dx);
    if (rng.chance(0.4)) give(d, 'metronidazole', dx);
    analgesic(dx, true);
    give(d, 'ondansetron', dx);
    return;
  },
  pancreatitis: (c) => {
    const { s, d, t } = c;
    const dx = acuteDx(d, 'K85.90', t);
    d.procedures.push('BW25ZZZ');
    give(d, 'sodiumChloride', dx);
    give(d, s.has('opioid') ? 'ketorolac' : 'hydromorphone', dx);
    give(d, 'ondansetron', dx);
    if (s.has('alcohol')) {
      give(d, 'lorazepam', dx);
      give(d, 'folicAcid', dx);
    }
    d.extraDays += 2;
    return;
  },
} satisfies ReasonRules;
