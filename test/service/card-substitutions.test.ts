// The substitution lines of the suggestion card: one per unseen code, named, escaped, bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SUBSTITUTION_LINES, substitutionLines, suggestionCard } from '../../src/service/cards/suggestion-card.ts';
import { describeResponseProblems } from '../../src/service/cards-schema.ts';
import type { CodeSubstitution } from '../../src/service/hooks/ports.ts';
import { namedSubstitutions } from '../../src/service/hooks/suggest.ts';

const sub = (from: string, encounter = 'current', extra: Partial<CodeSubstitution> = {}): CodeSubstitution => ({ kind: 'diagnosis', encounter, from, to: 'icd10cm:I10', ...extra });

describe('substitutions on the suggestion card', () => {
  it('names each unseen code once, from the patient data before the code map, current encounter first', () => {
    const names = new Map([['icd10cm:I119', 'Hypertensive heart disease (site)']]);
    const out = namedSubstitutions(names, [
      sub('icd10cm:E1165', 'e1', { fromName: 'Type 2 diabetes with hyperglycaemia', toName: 'Type 2 diabetes' }),
      sub('icd10cm:I119', 'e1', { fromName: 'map name', toName: 'Essential hypertension' }),
      sub('icd10cm:I119', 'current', { fromName: 'map name', toName: 'Essential hypertension' }),
    ]);
    assert.deepEqual(
      out.map((s) => [s.from, s.encounter, s.fromName]),
      [
        ['icd10cm:I119', 'current', 'Hypertensive heart disease (site)'],
        ['icd10cm:E1165', 'e1', 'Type 2 diabetes with hyperglycaemia'],
      ],
    );
  });

  it('writes one escaped line per substitution, says which are earlier, and counts those past the bound', () => {
    const lines = substitutionLines([sub('icd10cm:I119', 'current', { fromName: 'a *bold* [link]', toName: 'Essential hypertension' }), sub('icd10pcs:0DTJ4ZZ', 'e2', { kind: 'procedure' })]);
    assert.deepEqual(lines, [
      '- Read as the nearest known code: `icd10cm:I10` (Essential hypertension) for `icd10cm:I119` (a \\*bold\\* \\[link\\])',
      "- Read as the nearest known code: `icd10cm:I10` for `icd10pcs:0DTJ4ZZ` (an earlier encounter's procedure)",
    ]);
    const many = substitutionLines(Array.from({ length: MAX_SUBSTITUTION_LINES + 3 }, (_, i) => sub(`icd10cm:X${i}`)));
    assert.equal(many.length, MAX_SUBSTITUTION_LINES + 1);
    assert.equal(many.at(-1), '- and 3 more unseen codes read as known ones');
  });

  it('keeps the card valid and its summary unchanged', () => {
    const input = {
      patientId: 'p1',
      modelVersion: 'v1',
      candidates: [{ label: 'C09A', name: 'ACE inhibitors', orderable: { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '29046', display: 'lisinopril' }, probability: 0.9, contributions: [], reasons: [] }],
      withheld: [],
      notes: [],
      mode: 'select' as const,
    };
    const without = suggestionCard(input).card;
    const withSubs = suggestionCard({ ...input, substitutions: [sub('icd10cm:I119')] }).card;
    assert.equal(withSubs.summary, without.summary);
    assert.ok(!without.detail!.includes('Read as'));
    assert.match(withSubs.detail!, /Codes the model never saw in training:\n- Read as the nearest known code: `icd10cm:I10` for `icd10cm:I119`\n/);
    assert.deepEqual(describeResponseProblems({ cards: [withSubs] }), []);
  });
});
