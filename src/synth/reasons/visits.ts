// Encounter rules, routine visits: what is diagnosed, done and given at an encounter for each reason.
// Transcribed unchanged from the generator's former switch (src/synth/clinical.ts); the cohort is byte-identical.
import type { ReasonRules } from './types.ts';

export const VISITS_RULES = {
  followup: (c) => {
    return;
  },
} satisfies ReasonRules;
