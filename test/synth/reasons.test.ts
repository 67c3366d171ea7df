// The encounter rule table (src/synth/reasons/): each rule on its own, on a hand-made patient state.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SimPatient } from '../../src/synth/clinical.ts';
import type { Drug } from '../../src/synth/facts.ts';
import { Rng, streamSeed } from '../../src/synth/random.ts';
import { isReasonName, REASON_RULES, type ReasonContext, type ReasonName } from '../../src/synth/reasons/index.ts';
import { DAY_MS, PatientState, give, type Draft } from '../../src/synth/state.ts';

const T = Date.UTC(2022, 5, 1);
const patient: SimPatient = { index: 0, sex: 'female', birthMs: Date.UTC(1960, 0, 1), hispanic: false, language: 'en', marital: 'M', encounters: [] };

function run(reason: ReasonName, seed: number, setup: (s: PatientState) => void = () => {}, extra: Partial<ReasonContext> = {}) {
  // streamSeed spreads small seeds over the generator's state, as the cohort generator does.
  const rng = new Rng(streamSeed(42, seed));
  const s = new PatientState(patient, rng);
  setup(s);
  const d: Draft = { conditions: [], procedures: [], acute: [], held: new Set(), extraDays: 0 };
  const age = extra.age ?? 62;
  const gestWeeks = extra.gestWeeks ?? 0;
  const cls = extra.cls ?? 'IMP';
  const context: ReasonContext = {
    reason,
    cls,
    s,
    rng,
    d,
    t: T,
    age,
    gestWeeks,
    child: age < 18,
    imp: cls === 'IMP',
    penAllergy: s.penicillinAllergy,
    pregnant: gestWeeks > 0,
    analgesic: (dx, strong) => give(d, strong ? 'morphine' : 'acetaminophen', dx),
    ...extra,
  };
  REASON_RULES[reason](context);
  return { s, d, drugs: d.acute.map((a) => a.drug), codes: d.conditions.map((c) => c.code) };
}

describe('encounter rules', () => {
  test('the table knows every reason, and only those', () => {
    assert.equal(Object.keys(REASON_RULES).length, 51);
    assert.ok(isReasonName('pneumonia') && isReasonName('delivery') && isReasonName('followup'));
    assert.ok(!isReasonName('toString') && !isReasonName('unknown'));
  });

  test('a follow-up visit records and gives nothing', () => {
    const { d } = run('followup', 1, undefined, { cls: 'AMB' });
    assert.deepEqual([d.conditions, d.procedures, d.acute], [[], [], []]);
  });

  test('penicillin allergy: no amoxicillin for pharyngitis or pneumonia, whatever the draw', () => {
    for (let seed = 1; seed <= 200; seed++) {
      for (const [reason, cls] of [['pharyngitis', 'AMB'], ['pneumonia', 'AMB'], ['pneumonia', 'IMP']] as const) {
        const allergic = run(reason, seed, (s) => (s.penicillinAllergy = true), { cls, penAllergy: true });
        assert.ok(!allergic.drugs.includes('amoxicillin' as Drug), `${reason} ${cls} seed ${seed}: ${allergic.drugs.join(', ')}`);
      }
    }
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) for (const drug of run('pharyngitis', seed, undefined, { cls: 'AMB' }).drugs) seen.add(drug);
    assert.ok(seen.has('amoxicillin'), 'without the allergy amoxicillin is a choice');
  });

  test('DVT and PE share one rule: the reason picks the code and the imaging; pregnancy gets enoxaparin', () => {
    const dvt = run('dvt', 3);
    const pe = run('pe', 3);
    assert.deepEqual(dvt.codes, ['I82.409']);
    assert.deepEqual(pe.codes, ['I26.99']);
    assert.ok(pe.d.procedures.includes('BW03ZZZ') && !dvt.d.procedures.includes('BW03ZZZ'));
    assert.ok(run('pe', 3, undefined, { gestWeeks: 20 }).drugs.includes('enoxaparin'));
    assert.ok(dvt.s.vteAnticoagUntil >= T + 90 * DAY_MS && dvt.s.vteAnticoagUntil <= T + 365 * DAY_MS);
  });

  test('NSTEMI: aspirin and a P2Y12 inhibitor, a year of dual antiplatelet therapy, coronary disease recorded', () => {
    const { s, drugs } = run('nstemi', 5);
    assert.ok(drugs.includes('aspirin'));
    assert.ok(drugs.includes('clopidogrel') || drugs.includes('ticagrelor'));
    assert.equal(s.daptUntil, T + 365 * DAY_MS);
    assert.ok(s.has('cad'));
  });

  test('every rule runs on a plain adult inpatient without throwing, and records a diagnosis unless a follow-up', () => {
    for (const reason of Object.keys(REASON_RULES) as ReasonName[]) {
      const { d } = run(reason, 11, undefined, reason === 'delivery' || reason === 'prenatal' || reason === 'hyperemesis' || reason === 'preeclampsia' || reason === 'pregnancyUti' ? { gestWeeks: 38, age: 30 } : {});
      if (reason !== 'followup') assert.ok(d.conditions.length > 0, `${reason} records a diagnosis`);
    }
  });
});
