// Encounter rules, adverse drug events: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { acuteDx, give, holdBleedingRisk, stopAce } from '../state.ts';
import type { ReasonRules } from './types.ts';

export const ADVERSE_DRUG_EVENTS_RULES = {
  anticoagBleed: (c) => {
    const { s, rng, d, t } = c;
    acuteDx(d, 'D68.32', t);
    acuteDx(d, 'T45.515A', t);
    const gi = rng.chance(0.5);
    const dx = gi ? acuteDx(d, 'K92.2', t) : acuteDx(d, 'D62', t);
    if (gi) {
      d.procedures.push('0DJ08ZZ');
      give(d, 'pantoprazole', dx);
      s.giBleedHistory = true;
    }
    if (rng.chance(0.5)) d.procedures.push('30233N1');
    holdBleedingRisk(s, d, rng, t);
    // Warfarin bleeders are commonly moved to a DOAC when anticoagulation resumes.
    if (s.regimen.get('anticoag') === 'warfarin' && s.ckdStage() < 5) s.regimen.set('anticoag', 'apixaban');
    return;
  },
  allergicReaction: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, rng.chance(0.5) ? 'T78.40XA' : 'L50.9', t);
    give(d, 'diphenhydramine', dx);
    if (rng.chance(0.6)) give(d, 'prednisone', dx);
    if (rng.chance(0.1)) give(d, 'epinephrine', dx);
    return;
  },
  aceAngioedema: (c) => {
    const { s, rng, d, t } = c;
    acuteDx(d, 'T78.3XXA', t);
    const dx = acuteDx(d, 'T46.4X5A', t);
    give(d, 'diphenhydramine', dx);
    give(d, rng.chance(0.5) ? 'methylprednisolone' : 'prednisone', dx);
    if (rng.chance(0.3)) give(d, 'epinephrine', dx);
    stopAce(s, d);
    return;
  },
  aceCough: (c) => {
    const { s, d, t } = c;
    acuteDx(d, 'R05.9', t);
    acuteDx(d, 'T46.4X5A', t);
    stopAce(s, d);
    return;
  },
  statinMyopathy: (c) => {
    const { s, d, t } = c;
    acuteDx(d, 'G72.0', t);
    acuteDx(d, 'T46.6X5A', t);
    s.statinIntolerant = true;
    d.held.add('statin');
    s.regimen.delete('statin');
    return;
  },
  penicillinRash: (c) => {
    const { s, rng, d, t } = c;
    const dx = acuteDx(d, 'L27.0', t);
    acuteDx(d, 'T36.0X5A', t);
    give(d, 'diphenhydramine', dx);
    if (rng.chance(0.4)) give(d, 'prednisone', dx);
    s.penicillinAllergy = true;
    return;
  },
} satisfies ReasonRules;
