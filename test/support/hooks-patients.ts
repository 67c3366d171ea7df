// Test fixture: hand-written FHIR R4 patients and CDS Hooks requests for the hook tests.
import type { Bundle, Condition, Encounter, FhirResource, MedicationRequest, Patient, Procedure } from 'fhir/r4';
import type { CallContext, HookRequest } from '../../src/service/contracts.ts';
import { ICD10, RXNORM, SNOMED } from './hooks-mapping.ts';

export interface PatientSpec {
  id: string;
  birthDate?: string;
  gender?: Patient['gender'];
  /** Problem-list Conditions (no encounter), with their statuses. */
  problems?: Array<{ id: string; code: string; display: string; clinicalStatus?: string; verificationStatus?: string; onset?: string; abatement?: string }>;
  encounters: Array<{
    id: string;
    start: string;
    end?: string;
    /** Encounter.status; 'finished' when absent, null to leave it out. */
    status?: Encounter['status'] | null;
    diagnoses?: Array<[code: string, display: string]>;
    procedures?: Array<[code: string, display: string]>;
    /** RxNorm orders at this encounter. */
    medications?: Array<{ id: string; rxnorm: string; display: string; status?: MedicationRequest['status'] }>;
  }>;
}

export function patientResources(spec: PatientSpec): FhirResource[] {
  const subject = { reference: `Patient/${spec.id}` };
  const out: FhirResource[] = [
    { resourceType: 'Patient', id: spec.id, gender: spec.gender ?? 'female', birthDate: spec.birthDate ?? '1950-03-01' } satisfies Patient,
  ];
  const statusConcept = (system: string, code: string | undefined) => (code ? { coding: [{ system, code }] } : undefined);
  for (const p of spec.problems ?? []) {
    const clinicalStatus = statusConcept('http://terminology.hl7.org/CodeSystem/condition-clinical', p.clinicalStatus);
    const verificationStatus = statusConcept('http://terminology.hl7.org/CodeSystem/condition-ver-status', p.verificationStatus);
    out.push({
      resourceType: 'Condition',
      id: p.id,
      subject,
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
      ...(clinicalStatus ? { clinicalStatus } : {}),
      ...(verificationStatus ? { verificationStatus } : {}),
      ...(p.onset ? { onsetDateTime: p.onset } : {}),
      ...(p.abatement ? { abatementDateTime: p.abatement } : {}),
      code: { coding: [{ system: ICD10, code: p.code, display: p.display }] },
    } satisfies Condition);
  }
  for (const e of spec.encounters) {
    const encounter = { reference: `Encounter/${e.id}` };
    out.push({
      resourceType: 'Encounter',
      id: e.id,
      ...(e.status === null ? {} : { status: e.status ?? 'finished' }),
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject,
      period: { start: e.start, ...(e.end ? { end: e.end } : {}) },
    } as Encounter);
    (e.diagnoses ?? []).forEach(([code, display], i) =>
      out.push({ resourceType: 'Condition', id: `${e.id}-dx${i}`, subject, encounter, code: { coding: [{ system: ICD10, code, display }] } } satisfies Condition),
    );
    (e.procedures ?? []).forEach(([code, display], i) =>
      out.push({ resourceType: 'Procedure', id: `${e.id}-px${i}`, status: 'completed', subject, encounter, code: { coding: [{ system: SNOMED, code, display }] } } satisfies Procedure),
    );
    for (const m of e.medications ?? []) {
      out.push({
        resourceType: 'MedicationRequest',
        id: m.id,
        status: m.status ?? 'completed',
        intent: 'order',
        subject,
        encounter,
        medicationCodeableConcept: { coding: [{ system: RXNORM, code: m.rxnorm, display: m.display }], text: m.display },
      } satisfies MedicationRequest);
    }
  }
  return out;
}

/** Atrial fibrillation + hypertension now; GERD before, on omeprazole; lisinopril active. */
export const afibPatient: PatientSpec = {
  id: 'pt-afib',
  birthDate: '1948-06-15',
  gender: 'male',
  encounters: [
    {
      id: 'enc-1',
      start: '2023-01-10T09:00:00Z',
      diagnoses: [['K21.9', 'Gastro-esophageal reflux disease without esophagitis']],
      medications: [{ id: 'mr-old-ppi', rxnorm: '7646', display: 'omeprazole' }],
    },
    {
      id: 'enc-2',
      start: '2024-05-02T10:00:00Z',
      diagnoses: [
        ['I48.91', 'Unspecified atrial fibrillation'],
        ['I10', 'Essential (primary) hypertension'],
      ],
      medications: [{ id: 'mr-lisinopril', rxnorm: '29046', display: 'lisinopril 10 MG Oral Tablet', status: 'active' }],
    },
  ],
};

export function draftOrder(id: string, rxnorm: string, display: string, patientId: string, encounterId?: string): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id,
    status: 'draft',
    intent: 'order',
    subject: { reference: `Patient/${patientId}` },
    ...(encounterId ? { encounter: { reference: `Encounter/${encounterId}` } } : {}),
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: rxnorm, display }], text: display },
  };
}

export function drafts(...resources: FhirResource[]): Bundle {
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}

/** A search Bundle as a client would prefetch it. */
export function searchset(resources: FhirResource[]): Bundle {
  return { resourceType: 'Bundle', type: 'searchset', entry: resources.map((resource) => ({ resource })) };
}

/** The six prefetch keys filled from a patient's resources. */
export function fullPrefetch(resources: FhirResource[], patientId: string, encounterId?: string): Record<string, FhirResource | null> {
  const of = (type: string) => resources.filter((r) => r.resourceType === type);
  const prefetch: Record<string, FhirResource | null> = {
    patient: resources.find((r) => r.resourceType === 'Patient' && r.id === patientId) ?? null,
    encounters: searchset(of('Encounter')),
    conditions: searchset(of('Condition')),
    procedures: searchset(of('Procedure')),
    medications: searchset([...of('MedicationRequest'), ...of('Medication')]),
  };
  if (encounterId) prefetch.encounter = resources.find((r) => r.resourceType === 'Encounter' && r.id === encounterId) ?? null;
  return prefetch;
}

export function selectRequest(context: Record<string, unknown>, extra: Partial<HookRequest> = {}): HookRequest {
  return { hook: 'order-select', hookInstance: '4a4b5e1c-7a6f-4f4c-9d7e-0f5c3c2b1a01', context, ...extra };
}

export function signRequest(context: Record<string, unknown>, extra: Partial<HookRequest> = {}): HookRequest {
  return { hook: 'order-sign', hookInstance: '4a4b5e1c-7a6f-4f4c-9d7e-0f5c3c2b1a02', context, ...extra };
}

export function callContext(budgetMs = 2000, issuer = 'https://ehr.test'): CallContext {
  return { requestId: 'test', deadline: Date.now() + budgetMs, signal: new AbortController().signal, issuer };
}
