// Patient history -> training records: one per eligible encounter, earlier encounters as history.
import type { LoadedMapping } from '../mapping/types.ts';
import type { EncounterRecord, PatientHistory } from '../history/types.ts';
import type { DatasetRecord, HistoryVisit } from './types.ts';

export type SkipReason = 'no-diagnosis' | 'no-label' | 'no-diagnosis-and-no-label' | 'empty';

/** Band label of an age given the bands' lower bounds: `0-17`, `18-29`, ..., `90+`. */
export function ageBand(age: number | undefined, bounds: readonly number[]): string | undefined {
  if (age === undefined || bounds.length === 0) return undefined;
  const sorted = [...bounds].sort((a, b) => a - b);
  for (let i = sorted.length - 1; i >= 0; i--) {
    const low = sorted[i]!;
    if (age >= low) {
      const next = sorted[i + 1];
      return next === undefined ? `${low}+` : `${low}-${next - 1}`;
    }
  }
  return undefined;
}

/** The encounter's medication labels, unique and sorted. */
export function encounterLabels(encounter: EncounterRecord): string[] {
  const labels = new Set<string>();
  for (const med of encounter.medications) for (const label of med.labels) labels.add(label);
  return [...labels].sort();
}

function isEmpty(encounter: EncounterRecord): boolean {
  return encounter.diagnoses.length === 0 && encounter.procedures.length === 0 && encounter.medications.length === 0;
}

/** Why an encounter is not a training target, or undefined when it is one. */
export function skipReason(encounter: EncounterRecord, mapping: LoadedMapping): SkipReason | undefined {
  const hasDiagnosis = encounter.diagnoses.length > 0;
  const hasLabel = encounter.medications.some((m) => m.labels.length > 0);
  if (!mapping.config.encounters.requireDiagnosisAndLabel) return isEmpty(encounter) ? 'empty' : undefined;
  if (!hasDiagnosis && !hasLabel) return isEmpty(encounter) ? 'empty' : 'no-diagnosis-and-no-label';
  if (!hasDiagnosis) return 'no-diagnosis';
  if (!hasLabel) return 'no-label';
  return undefined;
}

function visitOf(encounter: EncounterRecord): HistoryVisit {
  return {
    encounterId: encounter.id,
    start: encounter.start,
    diagnoses: encounter.diagnoses.map((d) => d.token),
    procedures: encounter.procedures.map((p) => p.token),
    medications: encounterLabels(encounter),
  };
}

function profileOf(history: PatientHistory, encounter: EncounterRecord, mapping: LoadedMapping): Record<string, string> {
  const profile: Record<string, string> = {};
  if (history.profile.sex) profile.sex = history.profile.sex;
  const band = ageBand(encounter.ageYears, mapping.config.profile.ageBands);
  if (band) profile.age_band = band;
  for (const field of mapping.config.profile.fields) {
    const value = field.resource === 'Patient' ? history.profile.categorical[field.name] : encounter.categorical?.[field.name];
    if (value !== undefined) profile[field.name] = value;
  }
  return profile;
}

function buildRecord(history: PatientHistory, index: number, patientVisits: number, mapping: LoadedMapping): DatasetRecord {
  const encounter = history.encounters[index];
  if (!encounter) throw new RangeError(`encounter index ${index} outside 0..${history.encounters.length - 1} for Patient/${history.patientId}`);
  const earlier: HistoryVisit[] = [];
  for (let i = 0; i < index; i++) {
    const previous = history.encounters[i]!;
    // Encounters with nothing coded carry no tokens; the history is what the model can read.
    if (!isEmpty(previous)) earlier.push(visitOf(previous));
  }
  return {
    patientId: history.patientId,
    encounterId: encounter.id,
    visitIndex: index,
    patientVisits,
    start: encounter.start,
    profile: profileOf(history, encounter, mapping),
    history: earlier,
    diagnoses: encounter.diagnoses.map((d) => d.token),
    procedures: encounter.procedures.map((p) => p.token),
    labels: encounterLabels(encounter),
  };
}

/** Training records of a patient; skipped encounters are counted by reason into `skipped` when given. */
export function recordsFromHistory(history: PatientHistory, mapping: LoadedMapping, skipped?: Record<string, number>): DatasetRecord[] {
  const eligible: number[] = [];
  history.encounters.forEach((encounter, i) => {
    const reason = skipReason(encounter, mapping);
    if (reason === undefined) eligible.push(i);
    else if (skipped) skipped[reason] = (skipped[reason] ?? 0) + 1;
  });
  return eligible.map((i) => buildRecord(history, i, eligible.length, mapping));
}

/** The record for one encounter at serving time: labels are what is already ordered (may be empty). */
export function recordForEncounter(history: PatientHistory, encounterIndex: number, mapping: LoadedMapping): DatasetRecord {
  let earlierEligible = 0;
  for (let i = 0; i < encounterIndex && i < history.encounters.length; i++) {
    if (skipReason(history.encounters[i]!, mapping) === undefined) earlierEligible++;
  }
  return buildRecord(history, encounterIndex, earlierEligible + 1, mapping);
}

/** Display names of the tokens and labels a history uses (for prompts and reports). */
export function collectNames(history: PatientHistory, mapping: LoadedMapping, names: Map<string, string>): void {
  for (const encounter of history.encounters) {
    for (const entry of [...encounter.diagnoses, ...encounter.procedures]) {
      if (entry.concept.display && !names.has(entry.token)) names.set(entry.token, entry.concept.display);
    }
    for (const med of encounter.medications) {
      for (const label of med.labels) {
        if (names.has(label)) continue;
        const name = mapping.labelEntry(label)?.name;
        if (name) names.set(label, name);
      }
    }
  }
}
