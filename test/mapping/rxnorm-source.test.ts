import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadMapping } from '../../src/mapping/load.ts';
import { MappingError } from '../../src/mapping/errors.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const ATC = 'http://www.whocc.no/atc';
const shipped = resolve(import.meta.dirname, '../../mappings');

/** A mapping with one rxnorm source over small tables written for the test. */
function rxMapping(tables: { atc: string; codes?: string; salts?: string; routes?: string }, extra: Record<string, unknown> = {}): string {
  const dir = tempDir('leader-rx-');
  writeFileSync(join(dir, 'atc.csv'), tables.atc);
  if (tables.codes !== undefined) writeFileSync(join(dir, 'codes.csv'), tables.codes);
  if (tables.salts !== undefined) writeFileSync(join(dir, 'salts.csv'), tables.salts);
  if (tables.routes !== undefined) writeFileSync(join(dir, 'routes.csv'), tables.routes);
  const config = {
    name: 'rx-test',
    diagnoses: { systems: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', namespace: 'icd10' }] },
    procedures: { systems: [{ system: 'http://snomed.info/sct', namespace: 'sct' }] },
    medications: {
      labelSpace: 'atc3',
      sources: [
        { kind: 'coding', system: ATC, transform: { prefix: 4 } },
        {
          kind: 'rxnorm',
          ingredientAtc: 'atc.csv',
          ...(tables.codes !== undefined ? { codes: 'codes.csv' } : {}),
          ...(tables.salts !== undefined ? { salts: 'salts.csv' } : {}),
          ...(tables.routes !== undefined ? { routes: 'routes.csv' } : {}),
          transform: { prefix: 4 },
          ...extra,
        },
      ],
    },
  };
  const path = join(dir, 'mapping.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

const ATC_TABLE = 'ingredient,atc\nlisinopril,C09AA03\nhydrochlorothiazide,C03AA03\nmetoprolol,C07AB02\nwarfarin,B01AA03\nethinyl estradiol,G03CA01\nnorethindrone,G03AC01\nnorethindrone,G03DC02\n';

test('rxnorm source: clinical, branded, combination and pack names resolve to every ingredient and its label', async () => {
  const m = await loadMapping(rxMapping({ atc: ATC_TABLE, salts: 'salt\ntartrate\nsuccinate\nsodium\n' }));
  const scd = { system: RXNORM, code: '314076', display: 'Lisinopril 10 MG Oral Tablet' };
  assert.deepEqual(m.medicationLabels([scd]), ['C09A']);
  assert.deepEqual(m.medicationIngredients([scd]), ['lisinopril']);
  const sbd = { system: RXNORM, code: '1', display: 'Hydrochlorothiazide 12.5 MG / Lisinopril 20 MG Oral Tablet [Zestoretic]' };
  assert.deepEqual(m.medicationLabels([sbd]), ['C03A', 'C09A'], 'a combination yields each ingredient label');
  assert.deepEqual(m.medicationIngredients([sbd]), ['hydrochlorothiazide', 'lisinopril']);
  const pin = { system: RXNORM, code: '2', display: '24 HR Metoprolol Succinate 50 MG Extended Release Oral Tablet' };
  assert.deepEqual(m.medicationIngredients([pin]), ['metoprolol'], 'precise ingredient reduced to its base through the salt table');
  const pack = {
    system: RXNORM,
    code: '3',
    display: '{21 (Ethinyl Estradiol 0.035 MG / Norethindrone 1 MG Oral Tablet) / 7 (Inert Ingredients 1 MG Oral Tablet) } Pack [Necon 1/35 28 Day]',
  };
  assert.deepEqual(m.medicationIngredients([pack]), ['ethinyl estradiol', 'norethindrone']);
  assert.deepEqual(m.medicationLabels([pack]), ['G03C', 'G03A', 'G03D'], 'every ATC code of every ingredient');
  assert.deepEqual(m.ingredientAtc('Norethindrone'), ['G03AC01', 'G03DC02']);
  assert.deepEqual(m.ingredientAtc('Metoprolol Tartrate'), ['C07AB02']);
  assert.deepEqual(m.ingredientAtc('unobtainium'), []);
});

test('rxnorm source: code table first for codes without a display; a contradicting display withholds', async () => {
  const m = await loadMapping(rxMapping({ atc: ATC_TABLE, codes: 'rxcui,tty,ingredients\n29046,IN,lisinopril\n214618,MIN,hydrochlorothiazide;lisinopril\n' }));
  assert.deepEqual(m.medicationLabels([{ system: RXNORM, code: '29046' }]), ['C09A']);
  assert.deepEqual(m.medicationIngredients([{ system: RXNORM, code: '214618' }]), ['hydrochlorothiazide', 'lisinopril']);
  assert.deepEqual(m.medicationLabels([{ system: RXNORM, code: '404' }]), [], 'unknown code without display: nothing');
  assert.deepEqual(
    m.medicationLabels([{ system: RXNORM, code: '29046', display: 'Warfarin 5 MG Oral Tablet' }]),
    [],
    'the table and the display disagree: neither is trusted',
  );
  assert.deepEqual(m.medicationLabels([{ system: 'http://example.org/other', code: '29046', display: 'Lisinopril 10 MG Oral Tablet' }]), [], 'only configured systems');
});

test('rxnorm source: CodeableConcept.text is read only when every ingredient is known; earlier sources win', async () => {
  const m = await loadMapping(rxMapping({ atc: ATC_TABLE }));
  assert.deepEqual(m.medicationLabels([], 'Warfarin 5 MG Oral Tablet'), ['B01A']);
  assert.deepEqual(m.medicationIngredients([], 'lisinopril 10 MG Oral Tablet'), ['lisinopril']);
  assert.deepEqual(m.medicationLabels([], 'Lisinopril / Unknownium'), [], 'one unknown ingredient: the text is not used');
  assert.deepEqual(m.medicationLabels([], 'take as directed'), []);
  assert.deepEqual(m.medicationLabels([{ system: ATC, code: 'N02BE01' }, { system: RXNORM, code: '9', display: 'Lisinopril 10 MG Oral Tablet' }]), ['N02B']);
  const off = await loadMapping(rxMapping({ atc: ATC_TABLE }, { text: false }));
  assert.deepEqual(off.medicationLabels([], 'Warfarin 5 MG Oral Tablet'), [], 'text reading can be switched off');
});

test('rxnorm source: unparsable displays and malformed codings give no labels and no throw', async () => {
  const m = await loadMapping(rxMapping({ atc: ATC_TABLE }));
  const bad = ['', '10 MG Oral Tablet', 'Lisinopril (10 MG', '{7 (Lisinopril 10 MG Oral Tablet) Pack', 'x'.repeat(5000)];
  for (const display of bad) {
    assert.deepEqual(m.medicationLabels([{ system: RXNORM, code: '77', display }]), [], display.slice(0, 40));
  }
  const raw = (v: unknown) => v as never;
  assert.deepEqual(m.medicationLabels([raw({ system: RXNORM, code: 5, display: ['Lisinopril'] })]), []);
  assert.deepEqual(m.medicationIngredients([raw({ system: RXNORM, code: null, display: 42 })], raw(7)), []);
});

test('rxnorm tables: a malformed row names the file, the line and the field', async () => {
  const cases: Array<[Parameters<typeof rxMapping>[0], RegExp]> = [
    [{ atc: 'ingredient,atc\nlisinopril,C09AA03\nwarfarin,B01\n' }, /atc\.csv: line 3: field 'atc': 'B01' is not a WHO ATC/],
    [{ atc: 'ingredient,atc\n,C09AA03\n' }, /atc\.csv: line 2: field 'ingredient': empty/],
    [{ atc: ATC_TABLE, codes: 'rxcui,tty,ingredients\n29046,IN,lisinopril\n12a,IN,warfarin\n' }, /codes\.csv: line 3: field 'rxcui'/],
    [{ atc: ATC_TABLE, codes: 'rxcui,tty,ingredients\n29046,XYZ,lisinopril\n' }, /codes\.csv: line 2: field 'tty'/],
    [{ atc: ATC_TABLE, codes: 'rxcui,tty,ingredients\n29046,IN,\n' }, /codes\.csv: line 2: field 'ingredients'/],
    [{ atc: 'name,code\nlisinopril,C09AA03\n' }, /column\(s\) 'ingredient', 'atc' not in header/],
    [{ atc: '# source: a comment line\ningredient,atc\nlisinopril,C09AA03\nwarfarin,B1AA03\n' }, /atc\.csv: line 4: field 'atc'/],
  ];
  for (const [tables, pattern] of cases) {
    await assert.rejects(loadMapping(rxMapping(tables)), (err: unknown) => {
      assert.ok(err instanceof MappingError);
      assert.match(err.message, /medications\.sources\[1\]\.(ingredientAtc|codes)/);
      assert.match(err.message, pattern);
      return true;
    });
  }
});

test('shipped mappings: an RxNorm clinical drug the site maps do not list resolves through the rxnorm source', async (t) => {
  for (const name of ['synthetic', 'synthea']) {
    // synthea.json reads its interaction pairs from the shared data folder.
    if (name === 'synthea' && !existsSync(resolve(shipped, '../../shared/data/ddi/gamenet-ddi-atc3-pairs.csv'))) {
      t.diagnostic('synthea.json skipped: ../shared/data/ddi is absent');
      continue;
    }
    const m = await loadMapping(join(shipped, `${name}.json`));
    const draft = { system: RXNORM, code: '999000111', display: 'Amlodipine 5 MG / Benazepril Hydrochloride 20 MG Oral Capsule [Lotrel]' };
    assert.deepEqual(m.medicationIngredients([draft]), ['amlodipine', 'benazepril'], name);
    assert.deepEqual(m.medicationLabels([draft]).sort(), ['C08C', 'C09A'], name);
  }
});

test('rxnorm source: the dose form picks the route-specific ATC codes of a multi-route ingredient', async () => {
  const atc = 'ingredient,atc\ntimolol,C07AA06\ntimolol,S01ED01\nfluticasone,D07AC17\nfluticasone,R01AD08\nfluticasone,R03BA05\nwarfarin,B01AA03\n';
  const routes = 'atc_group,dose_form_words\nS01,ophthalmic\nR01,nasal\nR03B,inhalation inhaler\nD,topical\n';
  const m = await loadMapping(rxMapping({ atc, routes }));
  const labels = (display: string) => m.medicationLabels([{ system: RXNORM, code: '1', display }]);
  assert.deepEqual(labels('Timolol 5 MG/ML Ophthalmic Solution'), ['S01E']);
  assert.deepEqual(labels('Timolol 10 MG Oral Tablet'), ['C07A']);
  assert.deepEqual(labels('120 ACTUAT fluticasone 0.044 MG/ACTUAT Metered Dose Inhaler'), ['R03B']);
  assert.deepEqual(labels('fluticasone 0.05 MG/ACTUAT Nasal Spray'), ['R01A']);
  assert.deepEqual(labels('fluticasone 0.5 MG/ML Topical Cream'), ['D07A']);
  assert.deepEqual(labels('fluticasone 1 MG Oral Capsule'), ['D07A', 'R01A', 'R03B'], 'no route matches and every code is route-bound: all kept');
  assert.deepEqual(m.medicationLabels([{ system: RXNORM, code: '2', display: 'Timolol' }]), ['C07A', 'S01E'], 'no dose form: every code');
  const noRoutes = await loadMapping(rxMapping({ atc }));
  assert.deepEqual(noRoutes.medicationLabels([{ system: RXNORM, code: '1', display: 'Timolol 5 MG/ML Ophthalmic Solution' }]), ['C07A', 'S01E']);
});

test('interaction pairs: a row with an empty side names the file, the line and the column', async () => {
  const dir = tempDir('leader-ddi-');
  writeFileSync(join(dir, 'ddi.csv'), '# pairs\natc3_a,atc3_b\nB01A,M01A\nN02B,\n');
  const path = join(dir, 'mapping.json');
  writeFileSync(
    path,
    JSON.stringify({
      name: 'ddi-test',
      diagnoses: { systems: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', namespace: 'icd10' }] },
      procedures: { systems: [{ system: 'http://snomed.info/sct', namespace: 'sct' }] },
      medications: { labelSpace: 'atc3', sources: [{ kind: 'coding', system: ATC, transform: { prefix: 4 } }] },
      interactions: { file: 'ddi.csv' },
    }),
  );
  await assert.rejects(loadMapping(path), /interactions\.file: .*ddi\.csv: line 4: field 'atc3_b': empty/);
});
