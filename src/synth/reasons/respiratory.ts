// Encounter rules, respiratory exacerbations: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { acuteDx, give } from '../state.ts';
import type { ReasonRules } from './types.ts';

export const RESPIRATORY_RULES = {
  copdExacerbation: (c) => {
    const { rng, d, t, imp } = c;
    const dx = acuteDx(d, 'J44.1', t);
    give(d, imp && rng.chance(0.5) ? 'methylprednisolone' : 'prednisone', dx);
    give(d, rng.chance(0.6) ? 'azithromycin' : 'doxycycline', dx);
    give(d, 'albuterol', dx);
    if (imp && rng.chance(0.1)) {
      acuteDx(d, 'J96.01', t);
      d.procedures.push('5A1935Z');
    }
    return;
  },
  asthmaExacerbation: (c) => {
    const { rng, d, t, child } = c;
    const dx = acuteDx(d, 'J45.901', t);
    give(d, 'albuterol', dx);
    give(d, child && rng.chance(0.3) ? 'dexamethasone' : 'prednisone', dx);
    return;
  },
} satisfies ReasonRules;
