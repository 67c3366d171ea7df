// Encounter rules, kidney and metabolic: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { ACE, ARB, NSAIDS, acuteDx, give } from '../state.ts';
import type { ReasonRules } from './types.ts';

export const KIDNEY_METABOLIC_RULES = {
  aki: (c) => {
    const { s, rng, d, t } = c;
    const dx = acuteDx(d, 'N17.9', t);
    if (rng.chance(0.5)) acuteDx(d, 'E86.0', t);
    give(d, 'sodiumChloride', dx);
    // Nephrotoxic and renally cleared home drugs are held during the episode.
    for (const role of ['htn1', 'htn2', 'hfRas', 'nsaid', 'dmOral', 'diuretic', 'mra', 'sglt2']) {
      const drug = s.regimen.get(role);
      if (drug && (ACE.includes(drug) || ARB.includes(drug) || NSAIDS.includes(drug) || drug === 'metformin' || drug === 'furosemide' || drug === 'spironolactone' || drug === 'empagliflozin' || drug === 'hydrochlorothiazide')) d.held.add(role);
    }
    s.regimen.delete('nsaid');
    return;
  },
  hypoglycemia: (c) => {
    const { s, d, t } = c;
    acuteDx(d, 'E16.0', t);
    const dx = acuteDx(d, 'T38.3X5A', t);
    give(d, 'glucose', dx);
    if (s.regimen.get('dmOral') === 'glipizide') {
      s.sulfonylureaHypo = true;
      d.held.add('dmOral');
    }
    return;
  },
  hypokalemia: (c) => {
    const { d, t } = c;
    const dx = acuteDx(d, 'E87.6', t);
    give(d, 'potassiumChloride', dx);
    return;
  },
  goutFlare: (c) => {
    const { s, rng, d, t } = c;
    const dx = acuteDx(d, 'M10.9', t);
    if (s.ckdStage() >= 4) give(d, 'prednisone', dx);
    else if (!s.anticoagulated() && !s.giBleedHistory && s.ckdStage() === 0 && !s.has('hf') && rng.chance(0.5)) give(d, 'naproxen', dx);
    else give(d, 'colchicine', dx);
    return;
  },
} satisfies ReasonRules;
