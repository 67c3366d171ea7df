import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { loadTemplate, PromptError, renderPrompt } from '../../src/teacher/prompt.ts';

const names: Record<string, string> = {
  'icd9:4019': 'Unspecified essential hypertension',
  'icd9:42731': 'Atrial fibrillation',
  'icd9:25000': 'Diabetes mellitus without complication',
  'icd9:5849': 'Acute kidney failure',
  'icd9:486': 'Pneumonia, organism unspecified',
  'icd9:4280': 'Congestive heart failure',
  'icd9p:3893': 'Venous catheterization',
  'icd9p:9604': 'Insertion of endotracheal tube',
  C07A: 'Beta blocking agents',
  B01A: 'Antithrombotic agents',
  A10B: 'Blood glucose lowering drugs',
  J01D: 'Other beta-lactam antibacterials',
};

const record: DatasetRecord = {
  patientId: 'p1',
  encounterId: 'e5',
  visitIndex: 4,
  patientVisits: 5,
  start: '2020-05-01T08:00:00Z',
  profile: { sex: 'female', age_band: '70-79' },
  history: [
    { encounterId: 'e1', start: '2019-01-01T00:00:00Z', diagnoses: ['icd9:486'], procedures: [], medications: ['J01D'] },
    { encounterId: 'e2', start: '2019-03-01T00:00:00Z', diagnoses: ['icd9:4019'], procedures: ['icd9p:3893'], medications: ['C07A'] },
    { encounterId: 'e3', start: '2019-06-01T00:00:00Z', diagnoses: ['icd9:42731'], procedures: [], medications: ['B01A', 'C07A'] },
    { encounterId: 'e4', start: '2019-09-01T00:00:00Z', diagnoses: ['icd9:25000'], procedures: [], medications: ['A10B'] },
  ],
  diagnoses: ['icd9:4280', 'icd9:5849', 'icd9:4019'],
  procedures: ['icd9p:9604', 'icd9p:3893'],
  labels: ['C07A'],
};

// A whitespace word count stands in for a tokenizer: the budget logic only needs a counter.
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

describe('LEADER prompts', () => {
  test('renders names in the paper order: count, last 3 earlier encounters, current encounter, cue', () => {
    const { text, shownVisits } = renderPrompt(record, names);
    assert.equal(shownVisits, 3);
    const lines = text.split('\n');
    assert.equal(lines[0], 'The patient has had 4 earlier encounters.');
    assert.equal(lines[1], 'Patient profile: sex female, age band 70-79.');
    assert.match(lines[2]!, /^In earlier encounter 2, the patient had diagnoses: Unspecified essential hypertension; procedures: Venous catheterization\. The patient was prescribed: Beta blocking agents\.$/);
    assert.equal(lines.length, 7);
    assert.equal(
      lines[5],
      'In this encounter, the patient has diagnoses: Congestive heart failure, Acute kidney failure, Unspecified essential hypertension; procedures: Insertion of endotracheal tube, Venous catheterization.',
    );
    assert.equal(lines[6], 'Then, the patient should be prescribed:');
    assert.doesNotMatch(text, /Pneumonia/, 'the oldest encounter is beyond maxHistory');
    assert.doesNotMatch(text, /icd9/, 'names, not codes');
  });

  test('defect 1: each earlier encounter shows its own diagnoses, not the current ones', () => {
    const lines = renderPrompt(record, names).text.split('\n');
    assert.match(lines[3]!, /diagnoses: Atrial fibrillation;/);
    assert.match(lines[4]!, /diagnoses: Diabetes mellitus without complication;/);
    for (const l of lines.slice(2, 5)) assert.doesNotMatch(l, /Congestive heart failure|Acute kidney failure/);
  });

  test('truncation drops the oldest earlier encounters first and keeps the current encounter', () => {
    const full = renderPrompt(record, names, { maxTokens: 1000, count: words });
    const budget = full.tokens! - 5;
    const cut = renderPrompt(record, names, { maxTokens: budget, count: words });
    assert.equal(cut.shownVisits, 2);
    assert.equal(cut.droppedForBudget, 1);
    assert.ok(cut.tokens! <= budget);
    assert.doesNotMatch(cut.text, /earlier encounter 2,/, 'the oldest shown encounter goes first');
    assert.match(cut.text, /earlier encounter 4,/);
    assert.match(cut.text, /In this encounter, the patient has diagnoses: Congestive heart failure/);
    assert.match(cut.text, /should be prescribed:$/);
    assert.match(cut.text, /The patient has had 4 earlier encounters\./, 'the count still says how many there were');

    const tight = renderPrompt(record, names, { maxTokens: 40, count: words });
    assert.equal(tight.shownVisits, 0);
    assert.ok(tight.trimmedCurrent > 0);
    assert.match(tight.text, /In this encounter, the patient has diagnoses: Congestive heart failure/);
    assert.ok(tight.tokens! <= 40);

    // Trimming keeps as many items as fit: one item more (in removal order) would exceed the budget.
    for (const budget of [32, 35, 38, 42, 46, 50]) {
      const r = renderPrompt(record, names, { maxTokens: budget, count: words });
      const items = [...record.diagnoses, ...record.procedures];
      const keep = items.length - r.trimmedCurrent;
      const withOneMore = (k: number) => {
        const kept = items.slice(0, k);
        const rec = { ...record, history: [], diagnoses: kept.filter((x) => record.diagnoses.includes(x)), procedures: kept.filter((x) => record.procedures.includes(x)) };
        return words(renderPrompt(rec, names).text.replace('had 0 earlier', 'had 4 earlier'));
      };
      assert.ok(r.tokens! <= budget);
      if (keep < items.length) assert.ok(withOneMore(keep + 1) > budget, `budget ${budget}: ${keep} items kept but ${keep + 1} would fit`);
    }

    assert.throws(() => renderPrompt(record, names, { maxTokens: 10, count: words }), (e: unknown) => e instanceof PromptError && /encounter e5: .* budget is 10/.test(e.message));
  });

  test('a first-visit patient and unnamed codes still render', () => {
    const first: DatasetRecord = { ...record, history: [], profile: {}, diagnoses: ['icd9:99999'], procedures: [] };
    const { text } = renderPrompt(first, names);
    assert.equal(text, 'The patient has had 0 earlier encounters.\nIn this encounter, the patient has diagnoses: 99999; procedures: none.\nThen, the patient should be prescribed:');
  });

  test('a configurable template (YAML) with named slots, and clear errors for unknown slots', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tpl-'));
    const file = path.join(dir, 'prompt.yaml');
    writeFileSync(
      file,
      ['intro: "{history_count} prior visits, {shown_count} shown."', 'profile: ""', 'visit: "Visit {visit_number} on {visit_date}: {diagnoses} / {medications}."', 'joiner: " "', 'maxHistory: 1'].join('\n'),
    );
    const t = loadTemplate(file);
    const { text } = renderPrompt(record, names, { template: t });
    assert.equal(
      text,
      '4 prior visits, 1 shown. Visit 4 on 2019-09-01: Diabetes mellitus without complication / Blood glucose lowering drugs. In this encounter, the patient has diagnoses: Congestive heart failure, Acute kidney failure, Unspecified essential hypertension; procedures: Insertion of endotracheal tube, Venous catheterization. Then, the patient should be prescribed:',
    );
    writeFileSync(file, 'visit: "Visit {visit_no}"\n');
    assert.throws(() => loadTemplate(file), /section "visit" uses unknown slot \{visit_no\}/);
    writeFileSync(file, 'maxHistory: -1\n');
    assert.throws(() => loadTemplate(file), /prompt\.yaml: field "maxHistory"/);
    writeFileSync(file, 'colour: blue\n');
    assert.throws(() => loadTemplate(file), /prompt\.yaml: .*colour/);
  });
});
