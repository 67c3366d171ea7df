// Encounter rules, cardiovascular and thromboembolic events: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { DAY_MS, acuteDx, addChronic, give } from '../state.ts';
import type { ReasonContext, ReasonRules } from './types.ts';

/** Deep vein thrombosis and pulmonary embolism share one rule (the reason picks the code). */
const venousThromboembolism = (c: ReasonContext): void => {
  const { s, rng, d, t, gestWeeks, imp, reason } = c;
  const dx = acuteDx(d, reason === 'pe' ? 'I26.99' : 'I82.409', t);
  if (reason === 'pe') d.procedures.push('BW03ZZZ');
  const pregnantNow = gestWeeks > 0;
  if (imp) give(d, 'heparin', dx);
  give(d, pregnantNow ? 'enoxaparin' : s.ckdStage() >= 5 ? 'warfarin' : rng.chance(0.6) ? 'apixaban' : 'rivaroxaban', dx);
  s.vteAnticoagUntil = t + Math.floor(rng.uniform(90, 365) * DAY_MS);
  addChronic(s, rng, 'vteHx', t + 30 * DAY_MS, null);
  return;
};

export const CARDIOVASCULAR_RULES = {
  nstemi: (c) => {
    const { s, rng, d, t } = c;
    const dx = acuteDx(d, 'I21.4', t);
    d.procedures.push('4A02X4Z', '4A023N7', 'B2111ZZ');
    if (rng.chance(0.7)) d.procedures.push('027034Z');
    give(d, 'aspirin', dx);
    give(d, s.anticoagulated() ? 'clopidogrel' : rng.chance(0.6) ? 'ticagrelor' : 'clopidogrel', dx);
    if (!s.anticoagulated()) give(d, 'heparin', dx);
    give(d, 'atorvastatin', dx);
    if (!s.has('asthma')) give(d, 'metoprolol', dx);
    give(d, 'nitroglycerin', dx);
    if (rng.chance(0.3)) give(d, 'morphine', dx);
    s.daptUntil = t + 365 * DAY_MS;
    addChronic(s, rng, 'cad', t, d);
    addChronic(s, rng, 'oldMi', t + DAY_MS, null);
    return;
  },
  chestPain: (c) => {
    const { s, rng, d, t } = c;
    const dx = acuteDx(d, 'R07.9', t);
    d.procedures.push('4A02X4Z');
    if (rng.chance(0.3)) d.procedures.push('BW03ZZZ');
    if (rng.chance(0.55)) give(d, 'aspirin', dx);
    if (rng.chance(0.25)) give(d, 'nitroglycerin', dx);
    if (s.has('gerd') && rng.chance(0.3)) give(d, 'famotidine', dx);
    return;
  },
  stroke: (c) => {
    const { s, rng, d, t } = c;
    const dx = acuteDx(d, 'I63.9', t);
    d.procedures.push('B020ZZZ');
    if (rng.chance(0.6)) d.procedures.push('B030ZZZ');
    if (rng.chance(0.5)) d.procedures.push('B246ZZZ');
    if (s.has('af')) give(d, s.ckdStage() >= 5 ? 'warfarin' : 'apixaban', dx);
    else give(d, 'aspirin', dx);
    if (!s.has('af') && rng.chance(0.4)) give(d, 'clopidogrel', dx);
    give(d, 'atorvastatin', dx);
    d.extraDays += 2;
    addChronic(s, rng, 'strokeHx', t + DAY_MS, null);
    return;
  },
  tia: (c) => {
    const { rng, d, t, age } = c;
    const dx = acuteDx(d, 'G45.9', t);
    d.procedures.push('B020ZZZ');
    give(d, 'aspirin', dx);
    if (rng.chance(0.6)) give(d, 'clopidogrel', dx);
    if (age >= 18) give(d, 'atorvastatin', dx);
    return;
  },
  dvt: venousThromboembolism,
  pe: venousThromboembolism,
  hfExacerbation: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, 'I50.23', t);
    d.procedures.push('BW03ZZZ');
    if (rng.chance(0.5)) d.procedures.push('B246ZZZ');
    give(d, 'furosemide', dx);
    if (rng.chance(0.25)) give(d, 'potassiumChloride', dx);
    d.extraDays += 1;
    return;
  },
  syncope: (c) => {
    const { rng, d, t, imp } = c;
    acuteDx(d, 'R55', t);
    d.procedures.push('4A02X4Z');
    if (imp) d.procedures.push('B246ZZZ');
    if (rng.chance(0.3)) give(d, 'sodiumChloride', d.conditions.length - 1);
    return;
  },
} satisfies ReasonRules;
