// Encounter rules, neurology and substance use: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { acuteDx, give } from '../state.ts';
import type { ReasonRules } from './types.ts';

export const NEURO_SUBSTANCE_RULES = {
  headache: (c) => {
    const { cls, s, rng, d, t, analgesic } = c;
    const dx = acuteDx(d, 'R51.9', t);
    if (s.has('migraine') && !s.has('cad') && !s.has('strokeHx') && rng.chance(0.6)) give(d, 'sumatriptan', dx);
    else analgesic(dx, false);
    if (rng.chance(0.3)) give(d, 'metoclopramide', dx);
    if (cls === 'IMP') d.procedures.push('B020ZZZ', ...(rng.chance(0.3) ? (['009U3ZX'] as const) : []));
    return;
  },
  alcoholWithdrawal: (c) => {
    const { rng, d, t, imp } = c;
    const dx = acuteDx(d, 'F10.239', t);
    give(d, rng.chance(0.6) ? 'lorazepam' : 'diazepam', dx);
    give(d, 'folicAcid', dx);
    if (imp) d.procedures.push('HZ2ZZZZ');
    return;
  },
  opioidOverdose: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, 'T40.2X1A', t);
    give(d, 'naloxone', dx);
    if (rng.chance(0.4)) give(d, 'buprenorphine', dx);
    return;
  },
} satisfies ReasonRules;
