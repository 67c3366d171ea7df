// The medication orders a call is about: drafts from draftOrders (selected or not) and the patient's active orders.
import type { Bundle, Coding, FhirResource, Medication, MedicationRequest } from 'fhir/r4';
import type { LoadedMapping } from '../../mapping/types.ts';
import { ServiceError } from '../contracts.ts';

export interface OrderedMedication {
  /** `MedicationRequest/<id>` (or a positional name for drafts without an id). */
  ref: string;
  display: string;
  labels: string[];
  origin: 'draft' | 'active';
  selected: boolean;
  /** No medication at all yet (an EHR's blank draft row): nothing to check and nothing to say about it. */
  empty: boolean;
}

export interface DraftSet {
  /** Every draft entry by `Type/id`, medication or not. */
  refs: Set<string>;
  medications: OrderedMedication[];
}

function medicationCodings(request: MedicationRequest, resources: readonly FhirResource[]): { codings: Coding[]; display?: string; text?: string } {
  const concept = request.medicationCodeableConcept;
  if (concept) return { codings: concept.coding ?? [], display: concept.text ?? concept.coding?.find((c) => c.display)?.display, text: concept.text };
  // Malformed JSON may put a non-string here: then there is no reference to follow.
  const raw: unknown = request.medicationReference?.reference;
  const ref = typeof raw === 'string' ? raw : undefined;
  let med: Medication | undefined;
  if (ref?.startsWith('#')) {
    med = request.contained?.find((c): c is Medication => c.resourceType === 'Medication' && c.id === ref.slice(1));
  } else if (ref) {
    const id = ref.match(/(?:^|\/)Medication\/([^/]+)$/)?.[1];
    med = resources.find((r): r is Medication => r.resourceType === 'Medication' && r.id === id);
  }
  const fromRef = request.medicationReference?.display;
  if (!med) return { codings: [], display: fromRef };
  const identifiers: Coding[] = (med.identifier ?? [])
    .filter((i) => i.system && i.value)
    .map((i) => ({ system: i.system, code: i.value }));
  return {
    codings: [...(med.code?.coding ?? []), ...identifiers],
    display: med.code?.text ?? med.code?.coding?.find((c) => c.display)?.display ?? fromRef,
    text: med.code?.text,
  };
}

export function orderedMedication(
  request: MedicationRequest,
  ref: string,
  origin: OrderedMedication['origin'],
  selected: boolean,
  mapping: LoadedMapping,
  resources: readonly FhirResource[],
): OrderedMedication {
  const { codings, display, text } = medicationCodings(request, resources);
  const empty = codings.length === 0 && !display && !text;
  return { ref, display: display ?? 'unnamed medication', labels: [...new Set(mapping.medicationLabels(codings, text))], origin, selected, empty };
}

/** Reads draftOrders and checks that every selection points at one of its entries. */
export function readDrafts(draftOrders: Bundle, selections: readonly string[], mapping: LoadedMapping, resources: readonly FhirResource[]): DraftSet {
  const refs = new Set<string>();
  const byRef = new Map<string, MedicationRequest>();
  const draftResources: FhirResource[] = [];
  (draftOrders.entry ?? []).forEach((entry, i) => {
    const resource = entry?.resource as FhirResource | undefined;
    if (!resource) return;
    if (typeof resource.resourceType !== 'string') {
      throw new ServiceError('invalid', `draftOrders entry ${i} has a resource without resourceType`, [`context.draftOrders.entry[${i}].resource`]);
    }
    const ref = resource.id ? `${resource.resourceType}/${resource.id}` : `${resource.resourceType}/#${i}`;
    refs.add(ref);
    if (entry.fullUrl) refs.add(entry.fullUrl);
    draftResources.push(resource);
    if (resource.resourceType === 'MedicationRequest') byRef.set(ref, resource);
  });
  selections.forEach((sel, i) => {
    if (!refs.has(sel)) {
      throw new ServiceError('invalid', `selections[${i}] (${sel}) does not point to an entry of draftOrders`, [`context.selections[${i}]`]);
    }
  });
  const selected = new Set(selections);
  const lookup = [...resources, ...draftResources];
  const medications = [...byRef].map(([ref, request]) => orderedMedication(request, ref, 'draft', selected.has(ref), mapping, lookup));
  return { refs, medications };
}

/** The patient's active MedicationRequests (current therapy), excluding ones that are also in the drafts. */
export function activeMedications(resources: readonly FhirResource[], drafts: DraftSet, mapping: LoadedMapping): OrderedMedication[] {
  return resources
    .filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest' && r.status === 'active')
    .filter((r) => !drafts.refs.has(`MedicationRequest/${r.id}`))
    .map((r) => orderedMedication(r, `MedicationRequest/${r.id}`, 'active', false, mapping, resources));
}
