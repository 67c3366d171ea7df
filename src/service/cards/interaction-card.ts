// Warning card for an interacting pair of medication orders.
import { randomUUID } from 'node:crypto';
import type { Card } from '../contracts.ts';
import type { Interaction } from '../hooks/interactions.ts';
import { interactionOverrideReasons } from './override-reasons.ts';
import { code, md, summary } from './text.ts';

export const INTERACTION_SOURCE = 'LEADER interaction check';

function describe(order: Interaction['a'], label: string, className: (label: string) => string): string {
  const origin = order.origin === 'active' ? 'active order' : order.selected ? 'selected draft' : 'draft order';
  return `**${md(order.display)}** (${origin}; class ${md(className(label))}, ${md(label)})`;
}

export function interactionCard(interaction: Interaction, className: (label: string) => string, mappingName: string): Card {
  const { a, b, labelA, labelB } = interaction;
  const detail = [
    `${describe(a, labelA, className)} and ${describe(b, labelB, className)} belong to classes listed as interacting in the drug-interaction list of mapping ${code(mappingName)}.`,
    '',
    'Review the combination: choose an alternative, adjust the dose or monitor the patient, or override with a reason.',
  ].join('\n');
  return {
    uuid: randomUUID(),
    summary: summary(`Interaction: ${a.display} with ${b.display}`),
    detail,
    indicator: 'warning',
    source: { label: INTERACTION_SOURCE },
    overrideReasons: interactionOverrideReasons.map((c) => ({ ...c })),
  };
}
