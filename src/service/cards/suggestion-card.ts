// The medication suggestion card: one `create` of a draft R4 MedicationRequest per suggested label,
// with a Markdown detail giving the model version, the probability and the inputs that raised it.
import { randomUUID } from 'node:crypto';
import type { MedicationRequest, Reference } from 'fhir/r4';
import type { Orderable } from '../../mapping/schema.ts';
import type { Card, Suggestion } from '../contracts.ts';
import type { CodeSubstitution } from '../hooks/ports.ts';
import type { Contribution } from './explain.ts';
import { suggestionOverrideReasons } from './override-reasons.ts';
import { code, joinNames, md, percent, summary } from './text.ts';

export const SUGGESTION_SOURCE = 'LEADER medication suggestions';

export interface Candidate {
  label: string;
  name: string;
  orderable: Orderable;
  probability: number;
  contributions: Array<Contribution & { text: string }>;
  /** Conditions (`Condition/<id>`) that raised the label most. */
  reasons: Reference[];
}

export interface Withheld {
  label: string;
  name: string;
  probability: number;
  why: string;
}

export interface SuggestionCardInput {
  patientId: string;
  encounterId?: string;
  modelVersion: string;
  candidates: Candidate[];
  withheld: Withheld[];
  notes: string[];
  /** Unseen codes the model read as its nearest known ones: the clinician must know what the scores rest on. */
  substitutions?: readonly CodeSubstitution[];
  /** `select`: suggestions while ordering; `sign`: strongly indicated classes missing from the signed orders. */
  mode: 'select' | 'sign';
}

export interface BuiltCard {
  card: Card;
  suggestions: Array<{ uuid: string; label: string }>;
}

export function proposedOrder(candidate: Candidate, patientId: string, encounterId?: string): MedicationRequest {
  const { system, code, display } = candidate.orderable;
  const request: MedicationRequest = {
    resourceType: 'MedicationRequest',
    status: 'draft',
    intent: 'proposal',
    medicationCodeableConcept: { coding: [{ system, code, display }], text: display },
    subject: { reference: `Patient/${patientId}` },
  };
  if (encounterId) request.encounter = { reference: `Encounter/${encounterId}` };
  if (candidate.reasons.length > 0) request.reasonReference = candidate.reasons.map((r) => ({ ...r }));
  return request;
}

/** Lines kept in the detail; the rest are counted (a long history can hold many unseen codes). */
export const MAX_SUBSTITUTION_LINES = 8;

function named(token: string, name: string | undefined): string {
  return name ? `${code(token)} (${md(name)})` : code(token);
}

/** One short line per substitution, e.g. "Read as the nearest known code: `I10` (Essential hypertension) for `I119` (...)". */
export function substitutionLines(substitutions: readonly CodeSubstitution[]): string[] {
  const lines = substitutions.slice(0, MAX_SUBSTITUTION_LINES).map((s) => {
    const where = s.encounter === 'current' ? '' : ` (an earlier encounter's ${s.kind})`;
    return `- Read as the nearest known code: ${named(s.to, s.toName)} for ${named(s.from, s.fromName)}${where}`;
  });
  const more = substitutions.length - lines.length;
  if (more > 0) lines.push(`- and ${more} more unseen ${more === 1 ? 'code' : 'codes'} read as known ones`);
  return lines;
}

function explanation(c: Candidate): string {
  const head = `- **${md(c.orderable.display)}** for ${md(c.name)} (${md(c.label)}): probability ${percent(c.probability)}`;
  if (c.contributions.length === 0) return `${head}; no single input stands out.`;
  const parts = c.contributions.map((x) => `${md(x.text)} (${(x.delta * 100).toFixed(1)} points lower without it)`);
  return `${head}; raised most by ${parts.join(', ')}.`;
}

export function suggestionCard(input: SuggestionCardInput): BuiltCard {
  const suggestions: Suggestion[] = [];
  const log: BuiltCard['suggestions'] = [];
  for (const c of input.candidates) {
    const uuid = randomUUID();
    log.push({ uuid, label: c.label });
    suggestions.push({
      label: summary(`Order ${c.orderable.display}`, 80),
      uuid,
      isRecommended: input.mode === 'sign',
      actions: [
        {
          type: 'create',
          description: `Add a draft order for ${c.orderable.display} (${c.name})`,
          resource: proposedOrder(c, input.patientId, input.encounterId),
        },
      ],
    });
  }
  const names = input.candidates.map((c) => c.orderable.display);
  const title = input.mode === 'select' ? 'Consider' : 'Strongly indicated, not ordered';
  const lines = [
    input.mode === 'select'
      ? `The LEADER model (version ${code(input.modelVersion)}) predicts these medication classes for this encounter, from the patient's diagnoses, procedures, earlier encounters and profile:`
      : `The LEADER model (version ${code(input.modelVersion)}) scores these classes as strongly indicated, and none of the orders to sign covers them:`,
    '',
    ...input.candidates.map(explanation),
  ];
  if (input.withheld.length > 0) {
    lines.push('', 'Not suggested:', ...input.withheld.map((w) => `- ${md(w.name)} (${md(w.label)}, ${percent(w.probability)}): ${md(w.why)}`));
  }
  if (input.substitutions && input.substitutions.length > 0) {
    lines.push('', 'Codes the model never saw in training:', ...substitutionLines(input.substitutions));
  }
  if (input.notes.length > 0) lines.push('', 'Data notes:', ...input.notes.map((n) => `- ${md(n)}`));
  lines.push('', '_Model suggestions support, not replace, clinical judgement._');
  const card: Card = {
    uuid: randomUUID(),
    summary: summary(`${title}: ${joinNames(names)}`),
    detail: lines.join('\n'),
    indicator: input.mode === 'select' ? 'info' : 'warning',
    source: { label: `${SUGGESTION_SOURCE} (model ${input.modelVersion})` },
    suggestions,
    selectionBehavior: 'any',
    overrideReasons: suggestionOverrideReasons.map((c) => ({ ...c })),
  };
  return { card, suggestions: log };
}
