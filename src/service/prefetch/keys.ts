// The prefetch keys the medication services declare, and how each is fetched when the client did not fill it.
// The templates in cds-hooks/*.json must ask for the same data (see `prefetchTemplates`).

export type PrefetchKey = 'patient' | 'encounter' | 'encounters' | 'conditions' | 'procedures' | 'medications';

export interface KeySpec {
  key: PrefetchKey;
  resourceType: 'Patient' | 'Encounter' | 'Condition' | 'Procedure' | 'MedicationRequest';
  /** Without it no suggestion is safe (412 / 503 when it cannot be had); optional keys degrade the answer. */
  required: boolean;
  /** A read of one resource, or a search of the patient's resources. */
  query:
    | { kind: 'read'; id: string }
    | { kind: 'search'; params: Record<string, string> };
}

export interface KeyContext {
  patientId: string;
  encounterId?: string;
}

/** Keys in the order the handlers need them. Medications are required: we must know what is active to avoid duplicates and interactions. */
export function keySpecs(ctx: KeyContext): KeySpec[] {
  const specs: KeySpec[] = [
    { key: 'patient', resourceType: 'Patient', required: true, query: { kind: 'read', id: ctx.patientId } },
    {
      key: 'encounters',
      resourceType: 'Encounter',
      required: true,
      query: { kind: 'search', params: { patient: ctx.patientId } },
    },
    {
      key: 'conditions',
      resourceType: 'Condition',
      required: true,
      query: { kind: 'search', params: { patient: ctx.patientId } },
    },
    {
      key: 'procedures',
      resourceType: 'Procedure',
      required: false,
      query: { kind: 'search', params: { patient: ctx.patientId } },
    },
    {
      key: 'medications',
      resourceType: 'MedicationRequest',
      required: true,
      query: { kind: 'search', params: { patient: ctx.patientId, _include: 'MedicationRequest:medication' } },
    },
  ];
  if (ctx.encounterId) {
    specs.splice(1, 0, {
      key: 'encounter',
      resourceType: 'Encounter',
      required: false,
      query: { kind: 'read', id: ctx.encounterId },
    });
  }
  return specs;
}

/** Discovery prefetch templates matching `keySpecs` (for a service definition written without the edge's files). */
export const prefetchTemplates: Record<PrefetchKey, string> = {
  patient: 'Patient/{{context.patientId}}',
  encounter: 'Encounter/{{context.encounterId}}',
  encounters: 'Encounter?patient={{context.patientId}}',
  conditions: 'Condition?patient={{context.patientId}}',
  procedures: 'Procedure?patient={{context.patientId}}',
  medications: 'MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication',
};
