// "Now" for a hook call: the encounter the orders belong to, or the patient's active problems when no encounter is
// in progress. A finished encounter is history, however recent; a resolved condition is never a current diagnosis.
// The rule is written down in docs/now.md; the serving record is then built by the same code as training records.
import type { CodedEntry, EncounterRecord, PatientHistory, ProblemEntry } from './types.ts';

/** Encounter.status values of an encounter that is going on (FHIR R4 EncounterStatus). */
export const IN_PROGRESS_STATUSES: ReadonlySet<string> = new Set(['arrived', 'triaged', 'in-progress', 'onleave']);
/** Condition.clinicalStatus values of a problem that is going on (FHIR R4 condition-clinical). */
export const ACTIVE_CLINICAL_STATUSES: ReadonlySet<string> = new Set(['active', 'recurrence', 'relapse']);
/** Condition.clinicalStatus values that end a problem: such a condition is never a current diagnosis. */
export const ENDED_CLINICAL_STATUSES: ReadonlySet<string> = new Set(['inactive', 'remission', 'resolved']);

export type NowBasis =
  /** The request's context.encounterId, found in the data. */
  | 'context-encounter'
  /** The request's context.encounterId, which the data does not (yet) show: a new, empty encounter. */
  | 'context-encounter-unseen'
  /** No encounterId: the encounter in progress. */
  | 'in-progress-encounter'
  /** No encounter in progress: the active problems as of the call. */
  | 'active-problems';

export interface Now {
  basis: NowBasis;
  /** The history the record is built from: finished encounters, then the current one last. */
  history: PatientHistory;
  /** Index of the current encounter in `history.encounters` (always the last). */
  index: number;
  /** The real encounter the orders belong to (context or in progress); undefined for active problems. */
  encounterId?: string;
  /** Diagnoses of "now": the current encounter's less those ended by now, or the active problems; in record order. */
  current: CodedEntry[];
  /** One line for the card: what "now" was built from. */
  description: string;
}

function sameId(recordId: string, id: string): boolean {
  return recordId === id || recordId === `Encounter/${id}` || recordId.endsWith(`/Encounter/${id}`);
}

/** An encounter that is going on: an in-progress status, or (no status recorded) a start and no end. */
export function isInProgress(encounter: EncounterRecord, atMs: number): boolean {
  const startMs = Date.parse(encounter.start);
  if (Number.isNaN(startMs) || startMs > atMs) return false;
  if (encounter.status !== undefined) return IN_PROGRESS_STATUSES.has(encounter.status);
  return encounter.end === undefined;
}

/**
 * A problem active at `atMs`: clinicalStatus active/recurrence/relapse, no abatement at or before `atMs`, and not
 * refuted or entered-in-error (the reader drops those). A Condition with no clinicalStatus is not an active problem:
 * FHIR requires the status on problem-list items, and a diagnosis we cannot date as current is not "now".
 */
export function isActiveProblem(problem: ProblemEntry, atMs: number): boolean {
  if (!problem.clinicalStatus || !ACTIVE_CLINICAL_STATUSES.has(problem.clinicalStatus)) return false;
  if (problem.abatement !== undefined) {
    const ended = Date.parse(problem.abatement);
    if (Number.isNaN(ended) || ended <= atMs) return false;
  } else if (problem.abated) {
    return false;
  }
  if (problem.onset !== undefined) {
    const began = Date.parse(problem.onset);
    if (!Number.isNaN(began) && began > atMs) return false;
  }
  return true;
}

/** Whole years from a birth date to an instant (undefined without a usable birth date). */
function ageAt(birthDate: string | undefined, at: Date): number | undefined {
  const b = birthDate ? /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(birthDate) : null;
  if (!b) return undefined;
  const month = Number(b[2] ?? '1');
  const day = Number(b[3] ?? '1');
  let years = at.getUTCFullYear() - Number(b[1]);
  if (at.getUTCMonth() + 1 < month || (at.getUTCMonth() + 1 === month && at.getUTCDate() < day)) years--;
  return years >= 0 ? years : undefined;
}

/** A diagnosis the source calls ended (resolved, inactive, remission) that had ended by `atMs` (or has no date). */
export function endedBy(entry: CodedEntry, atMs: number): boolean {
  if (!entry.clinicalStatus || !ENDED_CLINICAL_STATUSES.has(entry.clinicalStatus)) return false;
  if (entry.abatement === undefined) return true;
  const ended = Date.parse(entry.abatement);
  return Number.isNaN(ended) || ended <= atMs;
}

function asEntry(p: ProblemEntry): CodedEntry {
  return { token: p.token, concept: p.concept, ...(p.source ? { source: p.source } : {}), ...(p.clinicalStatus ? { clinicalStatus: p.clinicalStatus } : {}) };
}

/**
 * Places "now" in a patient's history read at serving time. Encounters that start after the current one are left out
 * (the model never saw the future in training); every other encounter before it is history.
 */
export function placeNow(history: PatientHistory, request: { encounterId?: string; at: Date }): Now {
  const atMs = request.at.getTime();
  const problems = (history.problems ?? []).filter((p) => isActiveProblem(p, atMs));
  const day = request.at.toISOString().slice(0, 10);

  let index = -1;
  let basis: NowBasis;
  if (request.encounterId) {
    index = history.encounters.findIndex((e) => sameId(e.id, request.encounterId!));
    basis = index >= 0 ? 'context-encounter' : 'context-encounter-unseen';
  } else {
    for (let i = history.encounters.length - 1; i >= 0; i--) {
      if (isInProgress(history.encounters[i]!, atMs)) {
        index = i;
        break;
      }
    }
    basis = index >= 0 ? 'in-progress-encounter' : 'active-problems';
  }

  const profileAge = ageAt(history.profile.birthDate, request.at);
  let encounters: EncounterRecord[];
  let currentBase: EncounterRecord;
  let encounterId: string | undefined;
  if (index >= 0) {
    currentBase = history.encounters[index]!;
    encounters = history.encounters.slice(0, index);
    encounterId = request.encounterId ?? currentBase.id.replace(/^.*Encounter\//, '');
  } else {
    // The ordering session as a new, empty encounter after everything the data shows (up to now).
    encounters = history.encounters.filter((e) => Date.parse(e.start) <= atMs || Number.isNaN(Date.parse(e.start)));
    currentBase = {
      id: request.encounterId ?? 'now',
      start: request.at.toISOString(),
      diagnoses: [],
      procedures: [],
      medications: [],
      ...(profileAge !== undefined ? { ageYears: profileAge } : {}),
    };
    encounterId = request.encounterId;
  }
  // An encounter's diagnoses are read as in training (what the data links to it), less what had ended by now;
  // a new, empty encounter (no encounter in progress, or one the data does not show) takes the active problems.
  const current = index >= 0 ? currentBase.diagnoses.filter((d) => !endedBy(d, atMs)) : problems.map(asEntry);
  const encounter: EncounterRecord = { ...currentBase, diagnoses: current };
  const problemCount = problems.length;
  const problemsText = problemCount === 0 ? 'no active problem recorded' : `${problemCount} active problem${problemCount === 1 ? '' : 's'}`;
  const diagnosesText = `${current.length} current diagnos${current.length === 1 ? 'is' : 'es'}`;
  let description: string;
  switch (basis) {
    case 'context-encounter':
      description = `Now: Encounter/${encounterId} (from the request), ${diagnosesText}, as of ${day}.`;
      break;
    case 'context-encounter-unseen':
      description = `Now: Encounter/${encounterId} (from the request; not in the data read) with ${problemsText} as of ${day}.`;
      break;
    case 'in-progress-encounter':
      description = `Now: the encounter in progress since ${currentBase.start.slice(0, 10)}, ${diagnosesText}, as of ${day}.`;
      break;
    case 'active-problems':
      description = `Now: no encounter in progress; ${problemsText} as of ${day} (finished encounters are history).`;
      break;
  }
  const placed: PatientHistory = { ...history, encounters: [...encounters, encounter] };
  return { basis, history: placed, index: encounters.length, ...(encounterId ? { encounterId } : {}), current, description };
}
