// One FHIR resource (parsed JSON, untrusted) -> the compact fact histories need. Shared by both readers.
// Runs once per bulk line: plain property access only, no FHIRPath or zod except for configured profile fields.
import type { Coding } from 'fhir/r4';
import type { CodedFact, EncounterFact, MedicationFact, MedicationRequestFact, PatientFact } from '../history/facts.ts';
import type { IssueLog } from '../history/issues.ts';
import { evaluateFields, type ProfileEvaluators } from './profile-fields.ts';
import { parseReference, referenceString, type FullUrlResolver } from './references.ts';

/** Shares repeated strings (systems, codes, displays) so that kept facts do not hold a copy per line. */
export class Interner {
  private readonly map = new Map<string, string>();
  private readonly codingLists = new Map<string, Coding[]>();
  constructor(private readonly limit = 2_000_000) {}
  get(value: string): string {
    const found = this.map.get(value);
    if (found !== undefined) return found;
    if (this.map.size < this.limit) this.map.set(value, value);
    return value;
  }
  /** One shared (never mutated) array per distinct coding list: most resources repeat a few thousand codes. */
  codingList(key: string): Coding[] | undefined {
    return this.codingLists.get(key);
  }
  keepCodingList(key: string, list: Coding[]): Coding[] {
    if (this.codingLists.size < this.limit) this.codingLists.set(key, list);
    return list;
  }
}

export interface ExtractContext {
  file: string;
  line: number;
  issues: IssueLog;
  profile: ProfileEvaluators;
  intern: Interner;
  resolve?: FullUrlResolver;
}

export type Extracted =
  | { type: 'Patient'; patientId: string; fact: PatientFact }
  | { type: 'Encounter'; patientId: string; fact: EncounterFact }
  | { type: 'Condition' | 'Procedure'; patientId: string; fact: CodedFact }
  | { type: 'MedicationRequest'; patientId: string; fact: MedicationRequestFact }
  | { type: 'Medication'; fact: MedicationFact };

export const readResourceTypes = new Set(['Patient', 'Encounter', 'Condition', 'Procedure', 'MedicationRequest', 'Medication']);

type Json = Record<string, unknown>;

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function codingsOf(concept: unknown, intern: Interner): Coding[] {
  const coding = obj(concept)?.coding;
  if (!Array.isArray(coding)) return [];
  // Look the list up by its raw text first: on a hit (the usual case) nothing is allocated or interned.
  let key = '';
  for (const item of coding) {
    const c = obj(item);
    const code = c && str(c.code);
    if (!code) continue;
    key += `${str(c.system) ?? ''}\u0001${code}\u0001${str(c.display) ?? ''}\u0002`;
  }
  if (key === '') return [];
  const found = intern.codingList(key);
  if (found) return found;
  const out: Coding[] = [];
  for (const item of coding) {
    const c = obj(item);
    if (!c) continue;
    const code = str(c.code);
    const system = str(c.system);
    if (!code) continue;
    const display = str(c.display);
    const compact: Coding = { code: intern.get(code) };
    if (system) compact.system = intern.get(system);
    if (display) compact.display = intern.get(display);
    out.push(compact);
  }
  return intern.keepCodingList(key, out);
}

/** The code of a CodeableConcept's first coding with a code (FHIR status concepts such as clinicalStatus). */
function conceptCode(concept: unknown): string | undefined {
  const coding = obj(concept)?.coding;
  if (!Array.isArray(coding)) return undefined;
  for (const item of coding) {
    const code = str(obj(item)?.code);
    if (code) return code;
  }
  return undefined;
}

function issue(ctx: ExtractContext, kind: Parameters<IssueLog['add']>[0]['kind'], resource: string, field: string, message: string): void {
  ctx.issues.add({ kind, file: ctx.file, line: ctx.line, resource, field, message });
}

function subjectOf(r: Json, type: string, ctx: ExtractContext, label: string): string | undefined {
  const ref = referenceString(r.subject);
  if (!ref) {
    issue(ctx, 'missing-subject', label, 'subject.reference', `${type} has no subject reference`);
    return undefined;
  }
  const parsed = parseReference(ref, 'Patient', ctx.resolve);
  if (parsed.kind !== 'id') {
    issue(ctx, 'missing-subject', label, 'subject.reference', `subject '${ref}' is not a Patient reference`);
    return undefined;
  }
  return parsed.id;
}

function encounterOf(r: Json, ctx: ExtractContext, label: string): string | undefined {
  const ref = referenceString(r.encounter);
  if (!ref) return undefined;
  const parsed = parseReference(ref, 'Encounter', ctx.resolve);
  if (parsed.kind !== 'id') {
    issue(ctx, 'dangling-reference', label, 'encounter.reference', `encounter '${ref}' is not an Encounter reference (treated as absent)`);
    return undefined;
  }
  // Shared with the Encounter's own id string: one copy per encounter however many resources point at it.
  return ctx.intern.get(parsed.id);
}

/** Medication text: code.text, a coding display, or a name carried as an identifier/coding (MIMIC does). */
function medicationText(codings: readonly Coding[], codeText: string | undefined): string | undefined {
  if (codeText) return codeText;
  for (const c of codings) if (c.display) return c.display;
  for (const c of codings) if (c.system && /name/i.test(c.system)) return c.code;
  return undefined;
}

export function extractMedication(r: Json, ctx: ExtractContext, contained?: Json[]): MedicationFact | undefined {
  const id = str(r.id) ?? '';
  const code = obj(r.code);
  // A copy: codingsOf returns a shared list, and identifiers are appended here.
  const codings = [...codingsOf(code, ctx.intern)];
  if (Array.isArray(r.identifier)) {
    for (const item of r.identifier) {
      const ident = obj(item);
      const value = str(ident?.value);
      const system = str(ident?.system);
      if (value && system) codings.push({ system: ctx.intern.get(system), code: ctx.intern.get(value) });
    }
  }
  const fact: MedicationFact = { id, codings };
  const text = medicationText(codings, str(code?.text));
  if (text) fact.text = ctx.intern.get(text);
  if (Array.isArray(r.ingredient)) {
    for (const item of r.ingredient) {
      const ingredient = obj(item);
      if (!ingredient) continue;
      const ref = referenceString(ingredient.itemReference);
      if (ref) {
        const parsed = parseReference(ref, 'Medication', ctx.resolve);
        if (parsed.kind === 'id') (fact.ingredients ??= []).push(parsed.id);
        else if (parsed.kind === 'contained') {
          const inner = (contained ?? []).find((c) => c.resourceType === 'Medication' && c.id === parsed.id);
          const innerFact = inner ? extractMedication(inner, ctx) : undefined;
          if (innerFact) (fact.containedIngredients ??= []).push(innerFact);
          else issue(ctx, 'dangling-reference', `Medication/${id}`, 'ingredient.itemReference', `contained ingredient '${ref}' not found`);
        }
        continue;
      }
      const itemCodings = codingsOf(ingredient.itemCodeableConcept, ctx.intern);
      if (itemCodings.length > 0) {
        const itemText = medicationText(itemCodings, str(obj(ingredient.itemCodeableConcept)?.text));
        (fact.containedIngredients ??= []).push({ id: '', codings: itemCodings, ...(itemText ? { text: itemText } : {}) });
      }
    }
  }
  if (codings.length === 0 && !fact.ingredients && !fact.containedIngredients) {
    issue(ctx, 'no-code', `Medication/${id}`, 'code.coding', 'Medication has no coding, identifier or ingredient');
  }
  return fact;
}

/** Extracts one resource; returns undefined (after recording the issue) when it cannot be used. */
export function extractResource(r: Json, ctx: ExtractContext): Extracted | undefined {
  const type = r.resourceType;
  if (typeof type !== 'string' || type.length === 0) {
    issue(ctx, 'missing-resource-type', '', 'resourceType', 'no resourceType');
    return undefined;
  }
  if (!readResourceTypes.has(type)) {
    issue(ctx, 'unsupported-resource-type', str(r.id) ? `${type}/${String(r.id)}` : type, 'resourceType', `resourceType '${type}' is not read`);
    return undefined;
  }
  const id = str(r.id);
  if (!id) {
    issue(ctx, 'missing-id', type, 'id', `${type} without id`);
    return undefined;
  }
  const label = `${type}/${id}`;
  const { file, line } = ctx;
  // Entered-in-error is the source saying "this never happened": ignored everywhere, training included.
  if (str(r.status) === 'entered-in-error' || (type === 'Condition' && conceptCode(r.verificationStatus) === 'entered-in-error')) {
    issue(ctx, 'entered-in-error', label, type === 'Condition' ? 'verificationStatus' : 'status', `${type} is marked entered-in-error`);
    return undefined;
  }
  if (type === 'Condition' && conceptCode(r.verificationStatus) === 'refuted') {
    issue(ctx, 'refuted', label, 'verificationStatus', 'Condition is refuted');
    return undefined;
  }
  switch (type) {
    case 'Medication': {
      const fact = extractMedication(r, ctx, Array.isArray(r.contained) ? (r.contained as Json[]) : undefined);
      return fact ? { type, fact } : undefined;
    }
    case 'Patient': {
      const fact: PatientFact = { id, file, line, categorical: evaluateFields(ctx.profile.patient, r) };
      const sex = str(r.gender);
      const birthDate = str(r.birthDate);
      if (sex) fact.sex = ctx.intern.get(sex);
      if (birthDate) fact.birthDate = birthDate;
      return { type, patientId: id, fact };
    }
    case 'Encounter': {
      const patientId = subjectOf(r, type, ctx, label);
      if (!patientId) return undefined;
      const period = obj(r.period);
      const fact: EncounterFact = { id: ctx.intern.get(id), file, line };
      const start = str(period?.start);
      const end = str(period?.end);
      const cls = str(obj(r.class)?.code);
      const status = str(r.status);
      if (status) fact.status = ctx.intern.get(status);
      if (start) fact.start = start;
      if (end) fact.end = end;
      if (cls) fact.class = ctx.intern.get(cls);
      if (ctx.profile.encounter.length > 0) {
        const categorical = evaluateFields(ctx.profile.encounter, r);
        for (const key of Object.keys(categorical)) categorical[key] = ctx.intern.get(categorical[key]!);
        fact.categorical = categorical;
      }
      return { type, patientId, fact };
    }
    case 'Condition':
    case 'Procedure': {
      const patientId = subjectOf(r, type, ctx, label);
      if (!patientId) return undefined;
      const code = obj(r.code);
      const codings = codingsOf(code, ctx.intern);
      if (codings.length === 0) {
        issue(ctx, 'no-code', label, 'code.coding', `${type} has no coding with a code`);
        return undefined;
      }
      const fact: CodedFact = { kind: type === 'Condition' ? 'diagnosis' : 'procedure', id, file, line, codings };
      const text = str(code?.text);
      if (text) fact.text = ctx.intern.get(text);
      const encounter = encounterOf(r, ctx, label);
      if (encounter) fact.encounter = encounter;
      const date =
        type === 'Condition'
          ? (str(r.onsetDateTime) ?? str(obj(r.onsetPeriod)?.start) ?? str(r.recordedDate))
          : (str(r.performedDateTime) ?? str(obj(r.performedPeriod)?.start));
      if (date) fact.date = date;
      if (type === 'Condition') {
        const abatement = str(r.abatementDateTime) ?? str(obj(r.abatementPeriod)?.end) ?? str(obj(r.abatementPeriod)?.start);
        if (abatement) fact.abatement = abatement;
        // Any abatement[x] (a boolean, a string, an age) says the problem ended, even without a date.
        if (abatement || r.abatementBoolean === true || str(r.abatementString) || obj(r.abatementAge) || obj(r.abatementRange)) fact.abated = true;
        const clinical = conceptCode(r.clinicalStatus);
        if (clinical) fact.clinicalStatus = ctx.intern.get(clinical);
        const verification = conceptCode(r.verificationStatus);
        if (verification) fact.verificationStatus = ctx.intern.get(verification);
      }
      return { type, patientId, fact };
    }
    case 'MedicationRequest': {
      const patientId = subjectOf(r, type, ctx, label);
      if (!patientId) return undefined;
      const fact: MedicationRequestFact = { id, file, line };
      const status = str(r.status);
      if (status) fact.status = ctx.intern.get(status);
      const authoredOn = str(r.authoredOn);
      if (authoredOn) fact.authoredOn = authoredOn;
      const encounter = encounterOf(r, ctx, label);
      if (encounter) fact.encounter = encounter;
      const concept = obj(r.medicationCodeableConcept);
      const ref = referenceString(r.medicationReference);
      if (concept) {
        fact.codings = codingsOf(concept, ctx.intern);
        const text = medicationText(fact.codings, str(concept.text));
        if (text) fact.text = ctx.intern.get(text);
        // Text alone can still be mapped (a `match: "text"` concept map, the rxnorm source): keep it, coverage counts it.
        if (fact.codings.length === 0 && !fact.text) {
          issue(ctx, 'no-code', label, 'medicationCodeableConcept.coding', 'medicationCodeableConcept has no coding with a code and no text');
          return undefined;
        }
      } else if (ref) {
        const parsed = parseReference(ref, 'Medication', ctx.resolve);
        if (parsed.kind === 'id') fact.medicationId = parsed.id;
        else if (parsed.kind === 'contained') {
          const contained = Array.isArray(r.contained) ? (r.contained as unknown[]).map(obj).filter((c): c is Json => !!c) : [];
          const med = contained.find((c) => c.resourceType === 'Medication' && c.id === parsed.id);
          if (!med) {
            issue(ctx, 'dangling-reference', label, 'medicationReference.reference', `contained Medication '${ref}' not found`);
            return undefined;
          }
          fact.medication = extractMedication(med, ctx, contained);
        } else {
          issue(ctx, 'dangling-reference', label, 'medicationReference.reference', `'${ref}' is not a Medication reference`);
          return undefined;
        }
      } else {
        issue(ctx, 'no-code', label, 'medication[x]', 'neither medicationCodeableConcept nor medicationReference');
        return undefined;
      }
      return { type, patientId, fact };
    }
  }
  return undefined;
}
