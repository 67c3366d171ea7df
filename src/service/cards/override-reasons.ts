// Override reasons offered on our cards; the feedback store receives these codings back.
import type { Coding } from 'fhir/r4';

export const OVERRIDE_SYSTEM = 'urn:leader-cds:override-reason';

function reason(code: string, display: string): Coding {
  return { system: OVERRIDE_SYSTEM, code, display };
}

export const suggestionOverrideReasons: readonly Coding[] = [
  reason('not-indicated', 'Not indicated for this patient'),
  reason('contraindicated', 'Contraindicated for this patient'),
  reason('already-treated', 'Already treated with another medication'),
  reason('patient-declined', 'Patient declined'),
  reason('other', 'Other reason'),
];

export const interactionOverrideReasons: readonly Coding[] = [
  reason('benefit-outweighs-risk', 'Benefit outweighs the interaction risk'),
  reason('will-monitor', 'Will monitor the patient'),
  reason('tolerated-before', 'Patient has tolerated the combination before'),
  reason('dose-adjusted', 'Dose already adjusted for the interaction'),
  reason('other', 'Other reason'),
];
