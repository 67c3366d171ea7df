// Encounter rules, pregnancy: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import { DAY_MS, acuteDx, give } from '../state.ts';
import type { ReasonRules } from './types.ts';

export const PREGNANCY_RULES = {
  prenatal: (c) => {
    const { s, rng, d, t, gestWeeks } = c;
    acuteDx(d, 'Z34.90', t);
    if (s.pregnancyGdm && gestWeeks >= 24) give(d, 'insulinGlargine', acuteDx(d, 'O24.419', t));
    if (s.pregnancyHtn && gestWeeks >= 20) give(d, rng.chance(0.6) ? 'labetalol' : 'nifedipine', acuteDx(d, 'O13.9', t));
    return;
  },
  hyperemesis: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, 'O21.0', t);
    give(d, rng.chance(0.7) ? 'ondansetron' : 'metoclopramide', dx);
    give(d, 'sodiumChloride', dx);
    return;
  },
  pregnancyUti: (c) => {
    const { d, t } = c;
    const dx = acuteDx(d, 'O23.40', t);
    // Cephalexin: fluoroquinolones are avoided in pregnancy.
    give(d, 'cephalexin', dx);
    return;
  },
  preeclampsia: (c) => {
    const { rng, d, t } = c;
    const dx = acuteDx(d, 'O14.90', t);
    give(d, 'labetalol', dx);
    if (rng.chance(0.4)) give(d, 'hydralazine', dx);
    d.extraDays += 2;
    return;
  },
  delivery: (c) => {
    const { s, rng, d, t } = c;
    const cesarean = rng.chance(s.pregnancyHtn || s.pregnancyGdm ? 0.45 : 0.3);
    const dx = acuteDx(d, cesarean ? 'O82' : 'O80', t);
    acuteDx(d, 'Z37.0', t);
    if (cesarean) {
      d.procedures.push('10D00Z1');
      give(d, 'cefazolin', dx);
      give(d, 'oxycodone', dx);
    } else d.procedures.push('10E0XZZ');
    give(d, 'ibuprofen', dx);
    give(d, 'acetaminophen', dx);
    // The pregnancy ends with this encounter.
    s.pregnancyStartMs = t - 288 * DAY_MS;
    return;
  },
} satisfies ReasonRules;
