// Facts of one patient -> PatientHistory: encounter linkage, attachment by date, until-abatement conditions,
// ordering by start, age at encounter. Both readers (bundle and bulk) go through here.
import type { Coding } from 'fhir/r4';
import type { LoadedMapping } from '../mapping/types.ts';
import type { KindRules } from '../mapping/schema.ts';
import type { CodedFact, FactSource, MedicationFact, MedicationRequestFact, PatientFacts } from './facts.ts';
import type { IssueKind, IssueLog } from './issues.ts';
import type { CodedEntry, Concept, ConceptKind, EncounterRecord, MedicationEntry, PatientHistory, ProblemEntry } from './types.ts';

/** Receives every diagnosis, procedure and medication occurrence placed in a history (coverage reports). */
export interface OccurrenceSink {
  /** `codings`: every coding the resource carried (coverage counts the systems seen), [] for text only. */
  occurrence(kind: ConceptKind, mapped: boolean, concept: Concept, codings?: readonly Coding[]): void;
}

export interface AssembleOptions {
  mapping: LoadedMapping;
  issues: IssueLog;
  /** Separate Medication resources by id. */
  medication(id: string): MedicationFact | undefined;
  sink?: OccurrenceSink;
  /** Keep every mapped Condition with its statuses as `history.problems` (serving: active problems as of now). */
  keepProblems?: boolean;
}

interface PlacedEncounter {
  record: EncounterRecord;
  startMs: number;
  endMs: number;
  startDay: string;
  endDay: string;
  diagnosisTokens: Set<string>;
  procedureTokens: Set<string>;
}

interface MedicationMatcher {
  medicationMatch?(codings: readonly Coding[], text?: string): { labels: string[]; matched?: Coding };
}

export function parseDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whole years from a FHIR birthDate (YYYY, YYYY-MM or YYYY-MM-DD) to a dateTime's calendar date. */
export function ageInYears(birthDate: string, at: string): number | undefined {
  const b = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(birthDate);
  const a = /^(\d{4})-(\d{2})-(\d{2})/.exec(at);
  if (!b || !a) return undefined;
  const by = Number(b[1]);
  const bm = Number(b[2] ?? '1');
  const bd = Number(b[3] ?? '1');
  let years = Number(a[1]) - by;
  if (Number(a[2]) < bm || (Number(a[2]) === bm && Number(a[3]) < bd)) years--;
  return years >= 0 ? years : undefined;
}

function where(source: FactSource): { file: string; line: number } {
  return { file: source.file, line: source.line };
}

interface MatchCache {
  medication: WeakMap<readonly Coding[], { labels: string[]; matched?: Coding }>;
  diagnosis: WeakMap<readonly Coding[], CodedEntry | null>;
  procedure: WeakMap<readonly Coding[], CodedEntry | null>;
}

// Readers share one coding array per distinct code list, so lookups are cached by array identity, per mapping.
const caches = new WeakMap<LoadedMapping, MatchCache>();

function cacheFor(mapping: LoadedMapping): MatchCache {
  let cache = caches.get(mapping);
  if (!cache) {
    cache = { medication: new WeakMap(), diagnosis: new WeakMap(), procedure: new WeakMap() };
    caches.set(mapping, cache);
  }
  return cache;
}

export function assembleHistory(facts: PatientFacts, options: AssembleOptions): PatientHistory {
  const { mapping, issues, sink } = options;
  const config = mapping.config;
  const report = (kind: IssueKind, source: FactSource, resource: string, field: string, message: string) =>
    issues.add({ kind, ...where(source), resource, field, message });

  const patient = facts.patient;
  if (!patient) {
    const first = facts.encounters[0] ?? facts.coded[0] ?? facts.requests[0];
    if (first) report('dangling-reference', first, `Patient/${facts.patientId}`, 'subject.reference', `Patient/${facts.patientId} is not in the input (profile left empty)`);
  }

  // Encounters: valid start, class filter, no duplicates; then ordered by start (ties by id, for determinism).
  const classes = config.encounters.classes;
  const excluded = new Set<string>();
  const encountersById = new Map<string, PlacedEncounter>();
  for (const enc of facts.encounters) {
    const label = `Encounter/${enc.id}`;
    if (encountersById.has(enc.id) || excluded.has(enc.id)) {
      report('duplicate-id', enc, label, 'id', 'Encounter id seen before for this patient');
      continue;
    }
    if (!enc.start) {
      report('missing-date', enc, label, 'period.start', 'Encounter has no period.start, so it cannot be ordered');
      excluded.add(enc.id);
      continue;
    }
    const startMs = parseDate(enc.start);
    if (startMs === undefined) {
      report('invalid-date', enc, label, 'period.start', `period.start '${enc.start}' is not a date`);
      excluded.add(enc.id);
      continue;
    }
    if (classes.length > 0 && !(enc.class && classes.includes(enc.class))) {
      report('class-excluded', enc, label, 'class.code', `class '${enc.class ?? '(none)'}' is not in the mapping's encounter classes`);
      excluded.add(enc.id);
      continue;
    }
    let endMs = parseDate(enc.end);
    if (enc.end && endMs === undefined) report('invalid-date', enc, label, 'period.end', `period.end '${enc.end}' is not a date (ignored)`);
    if (endMs === undefined || endMs < startMs) endMs = startMs;
    const record: EncounterRecord = { id: enc.id, start: enc.start, diagnoses: [], procedures: [], medications: [] };
    if (enc.status) record.status = enc.status;
    if (enc.end && endMs !== startMs) record.end = enc.end;
    if (enc.class) record.class = enc.class;
    if (patient?.birthDate) {
      const age = ageInYears(patient.birthDate, enc.start);
      if (age !== undefined) record.ageYears = age;
    }
    if (enc.categorical && Object.keys(enc.categorical).length > 0) record.categorical = enc.categorical;
    encountersById.set(enc.id, {
      record,
      startMs,
      endMs,
      startDay: enc.start.slice(0, 10),
      endDay: (enc.end && endMs !== startMs ? enc.end : enc.start).slice(0, 10),
      diagnosisTokens: new Set(),
      procedureTokens: new Set(),
    });
  }
  const ordered = [...encountersById.values()].sort((a, b) => a.startMs - b.startMs || (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0));

  /** The encounter whose period holds the date (the latest-starting one when several do). */
  function byDate(date: string, ms: number): PlacedEncounter | undefined {
    const dateOnly = !date.includes('T');
    const day = date.slice(0, 10);
    let found: PlacedEncounter | undefined;
    for (const enc of ordered) {
      const inside = dateOnly ? enc.startDay <= day && day <= enc.endDay : enc.startMs <= ms && ms <= enc.endMs;
      if (inside) found = enc;
      else if (enc.startMs > ms && !dateOnly) break;
    }
    return found;
  }

  /** The encounter a resource belongs to, or undefined after recording why it has none. */
  function link(
    source: FactSource,
    label: string,
    encounter: string | undefined,
    date: string | undefined,
    dateField: string,
    withoutEncounter: 'skip' | 'attach-by-date',
    quietWhenUnplaced = false,
  ): PlacedEncounter | undefined {
    if (encounter !== undefined) {
      const found = encountersById.get(encounter);
      if (found) return found;
      if (excluded.has(encounter)) report('encounter-excluded', source, label, 'encounter.reference', `Encounter/${encounter} was skipped`);
      else report('dangling-reference', source, label, 'encounter.reference', `Encounter/${encounter} is not in the input for this patient`);
      return undefined;
    }
    if (withoutEncounter === 'skip') {
      if (!quietWhenUnplaced) report('no-encounter', source, label, 'encounter', 'no encounter reference');
      return undefined;
    }
    if (!date) {
      report('missing-date', source, label, dateField, `no encounter reference and no ${dateField} to attach it by`);
      return undefined;
    }
    const ms = parseDate(date);
    if (ms === undefined) {
      report('invalid-date', source, label, dateField, `${dateField} '${date}' is not a date`);
      return undefined;
    }
    const found = byDate(date, ms);
    if (!found && !quietWhenUnplaced) report('no-encounter-at-date', source, label, dateField, `no encounter of the patient covers ${date}`);
    return found;
  }

  const cache = cacheFor(mapping);
  function codedEntryOf(fact: CodedFact): { entry?: CodedEntry; concept: Concept } {
    const kindCache = cache[fact.kind];
    let entry = kindCache.get(fact.codings);
    if (entry === undefined) {
      entry = null;
      for (const coding of fact.codings) {
        entry = mapping.codedEntry(fact.kind, coding) ?? null;
        if (entry) break;
      }
      kindCache.set(fact.codings, entry);
    }
    if (entry) return { entry, concept: entry.concept };
    const first = fact.codings[0]!;
    const display = first.display ?? fact.text;
    return { concept: { system: first.system ?? '', code: first.code ?? '', ...(display ? { display } : {}) } };
  }

  // Input order (file layout, bundle entry order) must not change the history: sort by id (and order time).
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const coded = [...facts.coded].sort(byId);
  const orderedAt = (r: MedicationRequestFact) => r.authoredOn ?? '\uffff';
  const requests = [...facts.requests].sort((a, b) => (orderedAt(a) < orderedAt(b) ? -1 : orderedAt(a) > orderedAt(b) ? 1 : byId(a, b)));

  const seen = new Set<string>();
  const problems: ProblemEntry[] = [];
  const rulesOf = (kind: 'diagnosis' | 'procedure'): KindRules => (kind === 'diagnosis' ? config.diagnoses : config.procedures);
  for (const fact of coded) {
    const type = fact.kind === 'diagnosis' ? 'Condition' : 'Procedure';
    const label = `${type}/${fact.id}`;
    if (seen.has(label)) {
      report('duplicate-id', fact, label, 'id', `${type} id seen before for this patient`);
      continue;
    }
    seen.add(label);
    const rules = rulesOf(fact.kind);
    const dateField = fact.kind === 'diagnosis' ? 'onset[x]' : 'performed[x]';
    const untilAbatement = rules.activity === 'until-abatement';
    const origin = link(fact, label, fact.encounter, fact.date, dateField, rules.withoutEncounter, untilAbatement);
    const targets: PlacedEncounter[] = [];
    if (origin) targets.push(origin);
    if (untilAbatement && (origin || (fact.encounter === undefined && rules.withoutEncounter === 'attach-by-date'))) {
      // Recorded once at onset, active at every later encounter until abatement.
      const onsetMs = parseDate(fact.date);
      const fromMs = origin ? Math.min(origin.startMs, onsetMs ?? origin.startMs) : onsetMs;
      let untilMs = parseDate(fact.abatement);
      if (fact.abatement && untilMs === undefined) {
        report('invalid-date', fact, label, 'abatement[x]', `abatement '${fact.abatement}' is not a date (treated as still active)`);
      }
      untilMs ??= Number.POSITIVE_INFINITY;
      if (fromMs !== undefined) {
        for (const enc of ordered) {
          if (enc === origin || enc.startMs < fromMs) continue;
          if (enc.startMs >= untilMs) break;
          targets.push(enc);
        }
      }
      if (!origin && targets.length === 0) {
        if (rules.withoutEncounter === 'skip') report('no-encounter', fact, label, 'encounter', 'no encounter reference');
        else if (fromMs !== undefined) report('no-encounter-at-date', fact, label, dateField, `no encounter of the patient at or after ${fact.date}`);
      }
    } else if (!origin && untilAbatement && rules.withoutEncounter === 'skip' && fact.encounter === undefined) {
      report('no-encounter', fact, label, 'encounter', 'no encounter reference');
    }
    if (options.keepProblems && fact.kind === 'diagnosis') {
      // A problem of the patient whether or not an encounter holds it: "now" may have no encounter at all.
      const { entry } = codedEntryOf(fact);
      if (entry) {
        const problem: ProblemEntry = { ...entry, source: label };
        if (fact.clinicalStatus) problem.clinicalStatus = fact.clinicalStatus;
        if (fact.verificationStatus) problem.verificationStatus = fact.verificationStatus;
        if (fact.date) problem.onset = fact.date;
        if (fact.abatement) problem.abatement = fact.abatement;
        if (fact.abated) problem.abated = true;
        problems.push(problem);
      }
    }
    if (targets.length === 0) continue;
    const { entry, concept } = codedEntryOf(fact);
    sink?.occurrence(fact.kind, entry !== undefined, concept, fact.codings);
    if (!entry) continue;
    for (const enc of targets) {
      const tokens = fact.kind === 'diagnosis' ? enc.diagnosisTokens : enc.procedureTokens;
      if (tokens.has(entry.token)) continue;
      tokens.add(entry.token);
      const placed: CodedEntry = { ...entry, source: label };
      if (fact.clinicalStatus) placed.clinicalStatus = fact.clinicalStatus;
      if (fact.abatement && fact.clinicalStatus && fact.clinicalStatus !== 'active') placed.abatement = fact.abatement;
      (fact.kind === 'diagnosis' ? enc.record.diagnoses : enc.record.procedures).push(placed);
    }
  }

  const matcher = mapping as LoadedMapping & MedicationMatcher;
  const match = (codings: readonly Coding[], text?: string): { labels: string[]; matched?: Coding } => {
    // The cache is keyed by the codings array alone, so text-bearing lookups go straight to the mapping (it caches per code).
    if (text) return matcher.medicationMatch ? matcher.medicationMatch(codings, text) : { labels: mapping.medicationLabels(codings, text) };
    let found = cache.medication.get(codings);
    if (!found) {
      found = matcher.medicationMatch ? matcher.medicationMatch(codings) : { labels: mapping.medicationLabels(codings) };
      cache.medication.set(codings, found);
    }
    return found;
  };
  const statuses = config.medications.statuses;

  function medicationOf(fact: MedicationRequestFact, label: string): { codings: Coding[]; text?: string; ingredients: MedicationFact[] } | undefined {
    if (fact.codings) return { codings: fact.codings, ...(fact.text ? { text: fact.text } : {}), ingredients: [] };
    const med = fact.medication ?? (fact.medicationId !== undefined ? options.medication(fact.medicationId) : undefined);
    if (!med) {
      report('dangling-reference', fact, label, 'medicationReference.reference', `Medication/${fact.medicationId ?? ''} is not in the input`);
      return undefined;
    }
    const ingredients: MedicationFact[] = [...(med.containedIngredients ?? [])];
    for (const id of med.ingredients ?? []) {
      const ingredient = options.medication(id);
      if (ingredient) ingredients.push(ingredient);
      else report('dangling-reference', fact, label, 'Medication.ingredient.itemReference', `ingredient Medication/${id} is not in the input`);
    }
    return { codings: med.codings, ...(med.text ? { text: med.text } : {}), ingredients };
  }

  for (const fact of requests) {
    const label = `MedicationRequest/${fact.id}`;
    if (seen.has(label)) {
      report('duplicate-id', fact, label, 'id', 'MedicationRequest id seen before for this patient');
      continue;
    }
    seen.add(label);
    if (!fact.status || !statuses.includes(fact.status)) {
      report('status-excluded', fact, label, 'status', `status '${fact.status ?? '(none)'}' is not counted by the mapping`);
      continue;
    }
    const enc = link(fact, label, fact.encounter, fact.authoredOn, 'authoredOn', config.medications.withoutEncounter);
    if (!enc) continue;
    const med = medicationOf(fact, label);
    if (!med) continue;
    if (med.codings.length === 0 && med.ingredients.length === 0 && !med.text) {
      report('no-code', fact, label, 'medication', 'the medication has no coding to map');
      continue;
    }
    let { labels, matched } = match(med.codings, med.text);
    let display = matched?.display ?? med.text;
    if (labels.length === 0 && med.ingredients.length > 0) {
      // A mixture: its labels are those of its ingredients.
      const union = new Set<string>();
      for (const ingredient of med.ingredients) for (const l of match(ingredient.codings).labels) union.add(l);
      labels = [...union];
      display = med.ingredients.map((i) => i.text ?? i.codings[0]?.code ?? '?').join(' + ');
    }
    const coding = matched ?? med.codings[0] ?? med.ingredients[0]?.codings[0];
    const concept: Concept = { system: coding?.system ?? '', code: coding?.code ?? '', ...(display ? { display } : {}) };
    sink?.occurrence('medication', labels.length > 0, concept, med.codings.length > 0 ? med.codings : med.ingredients.flatMap((i) => i.codings));
    const entry: MedicationEntry = { concept, labels: [...labels], source: label, status: fact.status };
    if (fact.authoredOn) entry.authoredOn = fact.authoredOn;
    enc.record.medications.push(entry);
  }

  const history: PatientHistory = {
    patientId: facts.patientId,
    profile: { categorical: patient?.categorical ?? {} },
    encounters: ordered.map((e) => e.record),
  };
  if (options.keepProblems) history.problems = problems;
  if (patient?.sex) history.profile.sex = patient.sex;
  if (patient?.birthDate) history.profile.birthDate = patient.birthDate;
  return history;
}
