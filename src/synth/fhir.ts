// Turns a simulated patient into FHIR R4 resources shaped like a hospital bulk export.
import type {
  CodeableConcept,
  Condition,
  Encounter,
  FhirResource,
  Medication,
  MedicationRequest,
  Patient,
  Procedure,
  Reference,
} from 'fhir/r4';
import type { SimPatient } from './clinical.ts';
import { DIAGNOSES, ICD10CM_SYSTEM, ICD10PCS_SYSTEM, INGREDIENTS, PROCEDURES, RXNORM_SYSTEM } from './facts.ts';
import type { Rng } from './random.ts';

export const US_CORE_RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
export const US_CORE_ETHNICITY = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const OMB = 'urn:oid:2.16.840.1.113883.6.238';

const RACE_NAMES: Record<string, string> = {
  '2106-3': 'White',
  '2054-5': 'Black or African American',
  '2028-9': 'Asian',
  '1002-5': 'American Indian or Alaska Native',
  '2076-8': 'Native Hawaiian or Other Pacific Islander',
};
const LANGUAGE_NAMES: Record<string, string> = {
  en: 'English', es: 'Spanish', zh: 'Chinese', vi: 'Vietnamese', ar: 'Arabic', ru: 'Russian',
};
const MARITAL_NAMES: Record<string, string> = {
  S: 'Never Married', M: 'Married', D: 'Divorced', W: 'Widowed', L: 'Legally Separated', T: 'Domestic partner',
};
const CLASS_NAMES: Record<string, string> = { IMP: 'inpatient encounter', EMER: 'emergency', AMB: 'ambulatory' };
const ADMIT_SOURCE_NAMES: Record<string, string> = {
  emd: 'From accident/emergency department',
  gp: 'General Practitioner referral',
  outp: 'From outpatient department',
  'hosp-trans': 'Transferred from other hospital',
  nursing: 'From nursing home',
  born: 'Born in hospital',
  other: 'Other',
};

/** Share of MedicationRequests that point at a Medication resource, and that carry a contained one. */
export const MEDICATION_REFERENCE_SHARE = 0.1;
export const MEDICATION_CONTAINED_SHARE = 0.05;

export interface PatientResources {
  patient: Patient;
  /** Every resource of the patient, Patient first, in a stable order. */
  resources: FhirResource[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function rxConcept(drug: keyof typeof INGREDIENTS): CodeableConcept {
  const f = INGREDIENTS[drug];
  return { coding: [{ system: RXNORM_SYSTEM, code: f.rxcui, display: f.name }], text: f.name };
}

/**
 * Builds the resources. The Rng is only used for presentation choices (how a medication is referenced), so the
 * clinical content depends on the simulation alone.
 */
export function toFhir(sim: SimPatient, idPrefix: string, rng: Rng): PatientResources {
  const pid = `${idPrefix}p${sim.index}`;
  const subject: Reference = { reference: `Patient/${pid}` };
  const extension: NonNullable<Patient['extension']> = [];
  if (sim.race) {
    extension.push({
      url: US_CORE_RACE,
      extension: [
        { url: 'ombCategory', valueCoding: { system: OMB, code: sim.race, display: RACE_NAMES[sim.race]! } },
        { url: 'text', valueString: RACE_NAMES[sim.race]! },
      ],
    });
  }
  const eth = sim.hispanic ? ['2135-2', 'Hispanic or Latino'] : ['2186-5', 'Not Hispanic or Latino'];
  extension.push({
    url: US_CORE_ETHNICITY,
    extension: [
      { url: 'ombCategory', valueCoding: { system: OMB, code: eth[0]!, display: eth[1]! } },
      { url: 'text', valueString: eth[1]! },
    ],
  });
  const patient: Patient = {
    resourceType: 'Patient',
    id: pid,
    extension,
    identifier: [{ system: 'urn:leader-cds:synthetic:patient', value: pid }],
    gender: sim.sex,
    birthDate: date(sim.birthMs),
    maritalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: sim.marital, display: MARITAL_NAMES[sim.marital]! }],
      text: MARITAL_NAMES[sim.marital]!,
    },
    communication: [
      {
        language: {
          coding: [{ system: 'urn:ietf:bcp:47', code: sim.language, display: LANGUAGE_NAMES[sim.language]! }],
          text: LANGUAGE_NAMES[sim.language]!,
        },
        preferred: true,
      },
    ],
  };
  const resources: FhirResource[] = [patient];
  const medications = new Map<string, Medication>();
  let nCond = 0;
  let nProc = 0;
  let nMed = 0;
  const lastIndex = sim.encounters.length - 1;
  for (const enc of sim.encounters) {
    const eid = `${pid}-e${enc.index}`;
    const encRef: Reference = { reference: `Encounter/${eid}` };
    const encounter: Encounter = {
      resourceType: 'Encounter',
      id: eid,
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: enc.class, display: CLASS_NAMES[enc.class]! },
      subject,
      period: { start: iso(enc.startMs), end: iso(enc.endMs) },
      hospitalization: {
        admitSource: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/admit-source', code: enc.admitSource, display: ADMIT_SOURCE_NAMES[enc.admitSource]! }],
        },
      },
    };
    resources.push(encounter);
    const conditionIds: string[] = [];
    for (const c of enc.conditions) {
      const id = `${pid}-c${nCond++}`;
      conditionIds.push(id);
      const display = DIAGNOSES[c.code];
      const abated = c.kind === 'acute' ? enc.endMs : c.abatementMs;
      const condition: Condition = {
        resourceType: 'Condition',
        id,
        clinicalStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: abated === undefined ? 'active' : 'resolved' }],
        },
        verificationStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
        },
        category: [
          {
            coding: [
              c.kind === 'onset'
                ? { system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item', display: 'Problem List Item' }
                : { system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis', display: 'Encounter Diagnosis' },
            ],
          },
        ],
        code: { coding: [{ system: ICD10CM_SYSTEM, code: c.code, display }], text: display },
        subject,
        encounter: encRef,
        onsetDateTime: iso(c.onsetMs),
        ...(abated === undefined ? {} : { abatementDateTime: iso(abated) }),
        recordedDate: iso(enc.startMs),
      };
      resources.push(condition);
    }
    for (const code of enc.procedures) {
      const procedure: Procedure = {
        resourceType: 'Procedure',
        id: `${pid}-pr${nProc++}`,
        status: 'completed',
        code: { coding: [{ system: ICD10PCS_SYSTEM, code, display: PROCEDURES[code] }], text: PROCEDURES[code] },
        subject,
        encounter: encRef,
        performedDateTime: iso(enc.startMs + Math.floor((enc.endMs - enc.startMs) * 0.3)),
      };
      resources.push(procedure);
    }
    const span = enc.endMs - enc.startMs;
    enc.medications.forEach((m, k) => {
      const id = `${pid}-m${nMed++}`;
      const f = INGREDIENTS[m.drug];
      const request: MedicationRequest = {
        resourceType: 'MedicationRequest',
        id,
        status: enc.index === lastIndex && m.chronic ? 'active' : 'completed',
        intent: 'order',
        subject,
        encounter: encRef,
        authoredOn: iso(enc.startMs + Math.floor((span * (k + 1)) / (enc.medications.length + 2))),
      };
      const x = rng.next();
      if (x < MEDICATION_REFERENCE_SHARE) {
        const medId = `${pid}-med${f.rxcui}`;
        if (!medications.has(medId)) {
          const medication: Medication = { resourceType: 'Medication', id: medId, code: rxConcept(m.drug) };
          medications.set(medId, medication);
          resources.push(medication);
        }
        request.medicationReference = { reference: `Medication/${medId}`, display: f.name };
      } else if (x < MEDICATION_REFERENCE_SHARE + MEDICATION_CONTAINED_SHARE) {
        const contained: Medication = { resourceType: 'Medication', id: 'med1', code: rxConcept(m.drug) };
        request.contained = [contained];
        request.medicationReference = { reference: '#med1' };
      } else {
        request.medicationCodeableConcept = rxConcept(m.drug);
      }
      if (m.reason !== undefined && conditionIds[m.reason] !== undefined) {
        request.reasonReference = [{ reference: `Condition/${conditionIds[m.reason]}` }];
      }
      resources.push(request);
    });
  }
  return { patient, resources };
}
