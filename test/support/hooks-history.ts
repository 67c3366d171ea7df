// Test fixture: a plain history builder for the hook tests, standing in for src/fhir/bundle-reader.ts and
// src/dataset/records.ts until those land. Encounters by start, resources attached by their encounter reference.
import type { Bundle, Condition, Encounter, FhirResource, MedicationRequest, Patient, Procedure } from 'fhir/r4';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import type { CodedEntry, EncounterRecord, PatientHistory } from '../../src/history/types.ts';
import type { LoadedMapping } from '../../src/mapping/types.ts';
import { orderedMedication } from '../../src/service/hooks/orders.ts';
import type { HistoryBuilder } from '../../src/service/hooks/ports.ts';

/** The encounter id a reference points at; undefined for anything else, a non-string (malformed JSON) included. */
function encounterOf(ref: unknown): string | undefined {
  return typeof ref === 'string' ? ref.match(/(?:^|\/)Encounter\/([^/]+)$/)?.[1] : undefined;
}

function ageAt(birthDate: string | undefined, start: string): number | undefined {
  if (!birthDate) return undefined;
  const b = new Date(birthDate);
  const s = new Date(start);
  let age = s.getUTCFullYear() - b.getUTCFullYear();
  if (s.getUTCMonth() < b.getUTCMonth() || (s.getUTCMonth() === b.getUTCMonth() && s.getUTCDate() < b.getUTCDate())) age -= 1;
  return age;
}

export const fixtureHistory: HistoryBuilder = {
  historyFromResources(input: FhirResource[] | Bundle, mapping: LoadedMapping, patientId?: string) {
    const resources = Array.isArray(input) ? input : (input.entry ?? []).flatMap((e) => (e.resource ? [e.resource as FhirResource] : []));
    const patient = resources.find((r): r is Patient => r.resourceType === 'Patient' && (!patientId || r.id === patientId));
    const encounters = new Map<string, EncounterRecord>();
    const issues: Array<{ message: string }> = [];
    for (const e of resources.filter((r): r is Encounter => r.resourceType === 'Encounter')) {
      const start: unknown = e.period?.start;
      if (!e.id || !start) continue;
      if (typeof start !== 'string') {
        issues.push({ message: `Encounter/${e.id}: period.start is not a string; encounter ignored` });
        continue;
      }
      const age = ageAt(patient?.birthDate, start);
      encounters.set(e.id, { id: e.id, start, diagnoses: [], procedures: [], medications: [], ...(age !== undefined ? { ageYears: age } : {}) });
    }
    const coded = (kind: 'diagnosis' | 'procedure', r: Condition | Procedure): CodedEntry | undefined => {
      for (const c of r.code?.coding ?? []) {
        const entry = mapping.codedEntry(kind, c);
        if (entry) return { ...entry, source: `${r.resourceType}/${r.id}` };
      }
      return undefined;
    };
    const encounterRef = (r: Condition | Procedure | MedicationRequest): string | undefined => {
      const ref: unknown = r.encounter?.reference;
      if (ref !== undefined && typeof ref !== 'string') issues.push({ message: `${r.resourceType}/${r.id}: encounter.reference is not a string; not attached` });
      return encounterOf(ref);
    };
    for (const r of resources) {
      if (r.resourceType === 'Condition' || r.resourceType === 'Procedure') {
        const enc = encounters.get(encounterRef(r) ?? '');
        const entry = coded(r.resourceType === 'Condition' ? 'diagnosis' : 'procedure', r);
        if (enc && entry) (r.resourceType === 'Condition' ? enc.diagnoses : enc.procedures).push(entry);
      } else if (r.resourceType === 'MedicationRequest') {
        const req = r as MedicationRequest;
        const enc = encounters.get(encounterRef(req) ?? '');
        if (!enc || !mapping.config.medications.statuses.includes(req.status)) continue;
        const m = orderedMedication(req, `MedicationRequest/${req.id}`, 'active', false, mapping, resources);
        enc.medications.push({ concept: { system: '', code: m.display, display: m.display }, labels: m.labels, status: req.status });
      }
    }
    const history: PatientHistory = {
      patientId: patientId ?? patient?.id ?? '',
      profile: { categorical: {}, ...(patient?.gender ? { sex: patient.gender } : {}), ...(patient?.birthDate ? { birthDate: patient.birthDate } : {}) },
      encounters: [...encounters.values()].sort((a, b) => a.start.localeCompare(b.start)),
    };
    return { history, issues };
  },
  recordForEncounter(history: PatientHistory, index: number, mapping: LoadedMapping): DatasetRecord {
    const target = history.encounters[index];
    if (!target) throw new Error(`no encounter ${index}`);
    const bands = mapping.config.profile.ageBands;
    const profile: Record<string, string> = {};
    if (history.profile.sex) profile.sex = history.profile.sex;
    if (target.ageYears !== undefined) {
      const band = [...bands].reverse().find((b) => b <= target.ageYears!);
      if (band !== undefined) profile.age_band = String(band);
    }
    return {
      patientId: history.patientId,
      encounterId: target.id,
      visitIndex: index,
      patientVisits: history.encounters.length,
      start: target.start,
      profile,
      history: history.encounters.slice(0, index).map((e) => ({
        encounterId: e.id,
        start: e.start,
        diagnoses: e.diagnoses.map((d) => d.token),
        procedures: e.procedures.map((p) => p.token),
        medications: [...new Set(e.medications.flatMap((m) => m.labels))],
      })),
      diagnoses: target.diagnoses.map((d) => d.token),
      procedures: target.procedures.map((p) => p.token),
      labels: [...new Set(target.medications.flatMap((m) => m.labels))],
    };
  },
};
