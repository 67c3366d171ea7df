// A hook call's answer as it is built: each card is kept, logged (card log, counters) and remembered for the
// session, the same way for order-select and order-sign.
import type { Card } from '../contracts.ts';
import { interactionCard } from '../cards/interaction-card.ts';
import { suggestionCard } from '../cards/suggestion-card.ts';
import { pairKey, type Interaction } from './interactions.ts';
import { logCard, type CardOrigin } from './log.ts';
import type { HookDeps, Prepared } from './prepare.ts';
import { countSubstitutions, type Selection } from './suggest.ts';

export class HookAnswer {
  readonly cards: Card[] = [];
  /** What this call told the clinician, as session keys (`ddi:<pair>`, `suggest:<label>`). */
  readonly said: string[] = [];
  private readonly origin: CardOrigin;

  constructor(
    private readonly deps: HookDeps,
    serviceId: string,
    request: { hook: string; hookInstance: string },
    private readonly p: Prepared,
  ) {
    this.origin = { serviceId, hook: request.hook, hookInstance: request.hookInstance, patientId: p.patientId, ...(p.encounterId ? { encounterId: p.encounterId } : {}) };
  }

  static interactionKey(hit: Interaction): string {
    return `ddi:${pairKey(hit.labelA, hit.labelB)}`;
  }

  private className = (label: string): string => this.deps.model.labelInfo(label)?.name ?? this.deps.mapping.labelEntry(label)?.name ?? label;

  async interaction(hit: Interaction): Promise<void> {
    const card = interactionCard(hit, this.className, this.deps.mapping.name);
    this.cards.push(card);
    this.said.push(HookAnswer.interactionKey(hit));
    await logCard(this.deps, this.origin, 'interaction', card, [hit.labelA, hit.labelB], []);
  }

  /** One suggestion card for the selection, if it has candidates: "consider" (select) or "strongly indicated" (sign). */
  async suggestions(selection: Selection, mode: 'select' | 'sign'): Promise<void> {
    const { candidates, withheld, substitutions } = selection;
    if (candidates.length === 0) return;
    const built = suggestionCard({
      patientId: this.p.patientId,
      ...(this.p.encounterId ? { encounterId: this.p.encounterId } : {}),
      modelVersion: this.deps.model.version,
      candidates,
      withheld: mode === 'select' ? withheld : [],
      notes: this.p.notes,
      substitutions,
      mode,
    });
    countSubstitutions(this.deps, this.origin.hook, substitutions);
    this.cards.push(built.card);
    const labels = candidates.map((c) => c.label);
    this.said.push(...labels.map((label) => `suggest:${label}`));
    await logCard(this.deps, this.origin, mode === 'select' ? 'suggestion' : 'missing-class', built.card, labels, built.suggestions);
  }
}
