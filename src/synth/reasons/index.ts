// The encounter rule table: one rule per reason, from the per-area files. Typed as a complete record, so a reason
// without a rule (or a rule for no reason) does not compile.
import { ADVERSE_DRUG_EVENTS_RULES } from './adverse-drug-events.ts';
import { CARDIOVASCULAR_RULES } from './cardiovascular.ts';
import { DIGESTIVE_RULES } from './digestive.ts';
import { INFECTIONS_RULES } from './infections.ts';
import { INJURIES_MUSCULOSKELETAL_RULES } from './injuries-musculoskeletal.ts';
import { KIDNEY_METABOLIC_RULES } from './kidney-metabolic.ts';
import { NEURO_SUBSTANCE_RULES } from './neuro-substance.ts';
import { PREGNANCY_RULES } from './pregnancy.ts';
import { RESPIRATORY_RULES } from './respiratory.ts';
import type { ReasonName, ReasonRule } from './types.ts';
import { VISITS_RULES } from './visits.ts';

export type { ReasonContext, ReasonName, ReasonRule } from './types.ts';

export const REASON_RULES: Record<ReasonName, ReasonRule> = {
  ...VISITS_RULES,
  ...INFECTIONS_RULES,
  ...CARDIOVASCULAR_RULES,
  ...RESPIRATORY_RULES,
  ...DIGESTIVE_RULES,
  ...KIDNEY_METABOLIC_RULES,
  ...INJURIES_MUSCULOSKELETAL_RULES,
  ...NEURO_SUBSTANCE_RULES,
  ...ADVERSE_DRUG_EVENTS_RULES,
  ...PREGNANCY_RULES,
};

export function isReasonName(name: string): name is ReasonName {
  return Object.hasOwn(REASON_RULES, name);
}
