import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { parseRxNormName } from '../../src/terminology/rxnorm-names.ts';
import { RxNormResolver } from '../../src/terminology/rxnorm.ts';
import { loadIngredientAtc, loadRouteRules, loadRxNormCodes, loadSalts } from '../../src/terminology/tables.ts';
import { normaliseName } from '../../src/terminology/names.ts';

const root = resolve(import.meta.dirname, '../..');

function ingredients(name: string): string[] {
  const result = parseRxNormName(name);
  assert.equal(result.kind, 'parsed', `${name}: ${result.kind === 'unparsed' ? result.reason : ''}`);
  return result.kind === 'parsed' ? result.ingredients : [];
}

test('RxNorm names: every term type an order carries parses to its ingredients as written', () => {
  const cases: Array<[string, string[]]> = [
    ['Lisinopril', ['Lisinopril']], // IN
    ['Metoprolol Tartrate', ['Metoprolol Tartrate']], // PIN
    ['Hydrochlorothiazide / Lisinopril', ['Hydrochlorothiazide', 'Lisinopril']], // MIN
    ['Lisinopril 10 MG', ['Lisinopril']], // SCDC
    ['Lisinopril 10 MG [Zestril]', ['Lisinopril']], // SBDC
    ['Lisinopril Oral Tablet', ['Lisinopril']], // SCDF
    ['lisinopril 10 MG Oral Tablet', ['lisinopril']], // SCD
    ['Lisinopril 10 MG Oral Tablet [Zestril]', ['Lisinopril']], // SBD
    ['hydrochlorothiazide 12.5 MG / lisinopril 20 MG Oral Tablet [Zestoretic]', ['hydrochlorothiazide', 'lisinopril']],
    ['24 HR metoprolol succinate 50 MG Extended Release Oral Tablet', ['metoprolol succinate']],
    ['0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe [Lovenox]', ['enoxaparin sodium']],
    ['120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler', ['fluticasone propionate']],
    ['72 HR fentanyl 0.025 MG/HR Transdermal System', ['fentanyl']],
    ['insulin isophane, human 70 UNT/ML / insulin regular, human 30 UNT/ML Injectable Suspension', ['insulin isophane, human', 'insulin regular, human']],
    ['potassium chloride 20 MEQ Extended Release Oral Tablet', ['potassium chloride']],
    ['polyethylene glycol 3350 17000 MG Powder for Oral Solution', ['polyethylene glycol 3350']],
    ['lidocaine 4 % Topical Cream', ['lidocaine']],
    ['NDA020800 0.3 ML epinephrine 1 MG/ML Auto-Injector', ['epinephrine']],
    ['Abuse-Deterrent 12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet [OxyContin]', ['oxycodone hydrochloride']],
    ['ethinyl estradiol 0.015 MG/Day / etonogestrel 0.12 MG/Day Vaginal System [NuvaRing]', ['ethinyl estradiol', 'etonogestrel']],
    ['estrogens, conjugated (USP) 0.625 MG Oral Tablet [Premarin]', ['estrogens, conjugated (USP)']],
    // GPCK / BPCK: members in parentheses, the placebo week is not an ingredient.
    ['{21 (ethinyl estradiol 0.035 MG / norgestimate 0.25 MG Oral Tablet) / 7 (inert ingredients 1 MG Oral Tablet) } Pack [Sprintec 28]', ['ethinyl estradiol', 'norgestimate']],
    ['{6 (azithromycin 250 MG Oral Tablet) } Pack [Z-PAK]', ['azithromycin']],
    ['{112 (amoxicillin 500 MG Oral Capsule) / 56 (clarithromycin 500 MG Oral Tablet) / 56 (lansoprazole 30 MG Delayed Release Oral Capsule) } Pack', ['amoxicillin', 'clarithromycin', 'lansoprazole']],
  ];
  for (const [name, expected] of cases) assert.deepEqual(ingredients(name), expected, name);
  const sbd = parseRxNormName('Lisinopril 10 MG Oral Tablet [Zestril]');
  assert.ok(sbd.kind === 'parsed' && sbd.brand === 'Zestril' && sbd.doseForm === 'Oral Tablet' && sbd.withStrength && !sbd.pack);
  const pack = parseRxNormName('{6 (azithromycin 250 MG Oral Tablet) } Pack [Z-PAK]');
  assert.ok(pack.kind === 'parsed' && pack.pack && pack.brand === 'Z-PAK');
});

test('RxNorm names: what does not follow the convention is unparsed with a reason, never a throw', () => {
  const bad: Array<[unknown, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    [undefined, /not a string/],
    [42, /not a string/],
    ['10 MG Oral Tablet', /without an ingredient|no ingredient/],
    ['Oral Tablet', /dose form without an ingredient/],
    ['Lisinopril (10 MG Oral Tablet', /unbalanced/],
    ['Lisinopril 10 MG Oral Tablet [Zestril', /unbalanced/],
    ['{7 (Lisinopril 10 MG Oral Tablet) Pack', /unbalanced/],
    ['{7 (Lisinopril 10 MG Oral Tablet) } Box', /ends in 'Pack'/],
    ['{} Pack', /no members/],
    ['{7 Lisinopril 10 MG Oral Tablet } Pack', /not '<count> \(<drug>\)'/],
    ['{7 (inert ingredients 1 MG Oral Tablet) } Pack', /no active ingredient/],
    ['Lisinopril 10 MG /  / Warfarin 5 MG', /empty component/],
    ['12345', /no letters/],
    ['x'.repeat(3000), /longer than/],
    ['[Zestril]', /nothing before the brand/],
  ];
  for (const [name, reason] of bad) {
    const result = parseRxNormName(name);
    assert.equal(result.kind, 'unparsed', String(name).slice(0, 40));
    assert.ok(result.kind === 'unparsed' && reason.test(result.reason), `${String(name).slice(0, 40)}: ${result.kind === 'unparsed' ? result.reason : ''}`);
  }
});

test('RxNorm names: arbitrary strings never throw and always give a defined outcome', () => {
  // A deterministic generator over the characters names are made of, brackets and separators included.
  const alphabet = 'abcXYZ 0123456789./-%[](){},|MG ML UNT Pack / ';
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let i = 0; i < 3000; i++) {
    let text = '';
    const length = next() % 80;
    for (let j = 0; j < length; j++) text += alphabet[next() % alphabet.length];
    const result = parseRxNormName(text);
    assert.ok(result.kind === 'parsed' ? result.ingredients.length > 0 : result.reason.length > 0, JSON.stringify(text));
  }
});

test('name normalisation: case, accents, whitespace and punctuation do not matter', () => {
  assert.equal(normaliseName('  Insulin Isophane, HUMAN '), 'insulin isophane human');
  assert.equal(normaliseName('omega-3-acid ethyl esters'), 'omega 3 acid ethyl esters');
  assert.equal(normaliseName('Périndopril'), 'perindopril');
  assert.equal(normaliseName(7), '');
});

test('shipped tables: >= 98% of the bench list of real RxNorm drug names parse to ingredients that all have an ATC class', async () => {
  const ref = (name: string) => ({ mappingFile: 'test', field: name, path: resolve(root, 'mappings/terminology', name) });
  const resolver = new RxNormResolver({
    ingredientAtc: await loadIngredientAtc(ref('ingredient-atc.csv')),
    codes: await loadRxNormCodes(ref('rxnorm-codes.csv')),
    salts: await loadSalts(ref('salts.csv')),
    routes: await loadRouteRules(ref('route-atc.csv')),
  });
  const rows = parse(readFileSync(resolve(root, 'bench/fixtures/rxnorm-drug-names.csv'), 'utf8'), { columns: true, comment: '#' }) as Array<{ name: string }>;
  assert.ok(rows.length >= 300, `at least 300 names (got ${rows.length})`);
  const failures: string[] = [];
  for (const { name } of rows) {
    const result = parseRxNormName(name);
    const found = resolver.ingredientsOfParse(result);
    if (found.length === 0 || found.some((i) => resolver.atcOf(i).length === 0)) failures.push(name);
  }
  assert.ok(failures.length <= rows.length * 0.02, `unresolved: ${failures.slice(0, 10).join('; ')}`);
  // Spot checks of base ingredients (what allergy screening compares) and of route-specific codes.
  const base = (name: string) => resolver.ingredientsOfParse(parseRxNormName(name));
  assert.deepEqual(base('24 HR metoprolol succinate 50 MG Extended Release Oral Tablet'), ['metoprolol']);
  assert.deepEqual(base('amoxicillin 875 MG / clavulanate potassium 125 MG Oral Tablet'), ['amoxicillin', 'clavulanate']);
  assert.deepEqual(base('1 ML heparin sodium, porcine 5000 UNT/ML Injection'), ['heparin']);
  assert.deepEqual(base('0.6 ML pegfilgrastim-jmdb 10 MG/ML Prefilled Syringe'), ['pegfilgrastim'], 'biosimilar suffix');
  assert.deepEqual(base('sodium chloride 9 MG/ML Injectable Solution'), ['sodium chloride'], 'an inorganic salt is its own ingredient');
  const timololEye = parseRxNormName('timolol 5 MG/ML Ophthalmic Solution');
  assert.ok(timololEye.kind === 'parsed');
  assert.deepEqual(resolver.atcFor('timolol', timololEye.doseForm), ['S01ED01']);
});
