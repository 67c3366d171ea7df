// Reader (a): in-memory resources or a search Bundle (what a CDS Hooks call brings) -> one patient's history.
import type { Bundle, Resource } from 'fhir/r4';
import type { LoadedMapping } from '../mapping/types.ts';
import { assembleHistory, type OccurrenceSink } from '../history/assemble.ts';
import { emptyPatientFacts, type MedicationFact, type PatientFacts } from '../history/facts.ts';
import { IssueLog, type ReadIssue } from '../history/issues.ts';
import type { PatientHistory } from '../history/types.ts';
import { extractResource, Interner, type ExtractContext } from './extract.ts';
import { profileEvaluatorsFor } from './profile-fields.ts';
import { parseReference, referenceString } from './references.ts';

export interface BundleReadResult {
  history: PatientHistory;
  issues: ReadIssue[];
}

interface Item {
  resource: Record<string, unknown>;
  fullUrl?: string;
  /** 1-based position in the input (entry index), for issues. */
  position: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Flattens Bundles (search results, nested bundles in prefetch) into resources with their fullUrls. */
function flatten(input: Resource[] | Bundle, out: Item[], issues: IssueLog, file: string): void {
  const push = (value: unknown, fullUrl: string | undefined, position: number) => {
    if (!isObject(value)) {
      issues.add({ kind: 'malformed-json', file, line: position, message: 'entry is not a resource object' });
      return;
    }
    if (value.resourceType === 'Bundle') {
      flatten(value as unknown as Bundle, out, issues, `${file}[${position}]`);
      return;
    }
    out.push({ resource: value, ...(fullUrl ? { fullUrl } : {}), position });
  };
  if (Array.isArray(input)) {
    input.forEach((r, i) => push(r, undefined, i + 1));
    return;
  }
  if (!isObject(input) || input.resourceType !== 'Bundle') {
    push(input, undefined, 1);
    return;
  }
  (input.entry ?? []).forEach((entry, i) => {
    if (!isObject(entry)) {
      issues.add({ kind: 'malformed-json', file, line: i + 1, field: `entry[${i}]`, message: 'entry is not an object' });
      return;
    }
    if (entry.resource === undefined) {
      issues.add({ kind: 'missing-resource-type', file, line: i + 1, field: `entry[${i}].resource`, message: 'entry has no resource' });
      return;
    }
    push(entry.resource, typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined, i + 1);
  });
}

export function historyFromResources(
  resources: Resource[] | Bundle,
  mapping: LoadedMapping,
  patientId?: string,
  sink?: OccurrenceSink,
  options: { keepProblems?: boolean } = {},
): BundleReadResult {
  const issues = new IssueLog(5, true);
  const items: Item[] = [];
  flatten(resources, items, issues, 'bundle');

  // fullUrl -> Type/id, so that `urn:uuid:` references resolve to the resources that carry them.
  const fullUrls = new Map<string, string>();
  for (const item of items) {
    const type = item.resource.resourceType;
    if (item.fullUrl && typeof type === 'string') {
      let id = typeof item.resource.id === 'string' ? item.resource.id : undefined;
      if (!id && item.fullUrl.startsWith('urn:uuid:')) {
        id = item.fullUrl.slice(9);
        item.resource = { ...item.resource, id };
      }
      if (id) fullUrls.set(item.fullUrl, `${type}/${id}`);
    }
  }
  const resolve = (ref: string) => fullUrls.get(ref);

  const ctx: ExtractContext = { file: 'bundle', line: 0, issues, profile: profileEvaluatorsFor(mapping), intern: new Interner(10_000), resolve };
  const byPatient = new Map<string, PatientFacts>();
  const medications = new Map<string, MedicationFact>();
  const bucket = (id: string) => {
    let found = byPatient.get(id);
    if (!found) byPatient.set(id, (found = emptyPatientFacts(id)));
    return found;
  };
  for (const item of items) {
    ctx.line = item.position;
    const fact = extractResource(item.resource, ctx);
    if (!fact) continue;
    if (fact.type === 'Medication') medications.set(fact.fact.id, fact.fact);
    else if (fact.type === 'Patient') {
      const facts = bucket(fact.patientId);
      if (facts.patient) issues.add({ kind: 'duplicate-id', file: 'bundle', line: item.position, resource: `Patient/${fact.patientId}`, field: 'id', message: 'Patient id seen before (first kept)' });
      else facts.patient = fact.fact;
    }
    else if (fact.type === 'Encounter') bucket(fact.patientId).encounters.push(fact.fact);
    else if (fact.type === 'MedicationRequest') bucket(fact.patientId).requests.push(fact.fact);
    else bucket(fact.patientId).coded.push(fact.fact);
  }

  let target = patientId;
  if (target !== undefined) {
    const parsed = parseReference(target, 'Patient', resolve);
    if (parsed.kind === 'id') target = parsed.id;
  } else {
    const withPatient = [...byPatient.values()].filter((p) => p.patient);
    target = (withPatient.length === 1 ? withPatient[0] : [...byPatient.values()][0])?.patientId;
  }
  if (target === undefined) {
    issues.add({ kind: 'missing-subject', file: 'bundle', message: 'no patient in the resources: history is empty' });
    target = '';
  }
  for (const [id, facts] of byPatient) {
    if (id === target) continue;
    const count = facts.encounters.length + facts.coded.length + facts.requests.length + (facts.patient ? 1 : 0);
    const first = facts.patient ?? facts.encounters[0] ?? facts.coded[0] ?? facts.requests[0];
    issues.add({
      kind: 'missing-subject',
      file: 'bundle',
      ...(first ? { line: first.line } : {}),
      field: 'subject.reference',
      resource: `Patient/${id}`,
      message: `${count} resource(s) of another patient than Patient/${target} ignored`,
    });
  }
  const facts = byPatient.get(target) ?? emptyPatientFacts(target);
  const history = assembleHistory(facts, {
    mapping,
    issues,
    medication: (id) => medications.get(id),
    ...(sink ? { sink } : {}),
    ...(options.keepProblems ? { keepProblems: true } : {}),
  });
  return { history, issues: issues.all };
}

/** Reference helper for callers that hold a Reference and want the id the reader would use. */
export function referencedId(value: unknown, type: string): string | undefined {
  const ref = referenceString(value);
  if (!ref) return undefined;
  const parsed = parseReference(ref, type);
  return parsed.kind === 'id' ? parsed.id : undefined;
}
