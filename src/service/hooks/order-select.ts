// order-select: warnings for interactions of the selected drafts, and model suggestions for the encounter.
import type { Card, CallContext, CdsResponse, HookRequest } from '../contracts.ts';
import { interactionCard } from '../cards/interaction-card.ts';
import { suggestionCard } from '../cards/suggestion-card.ts';
import { orderSelectContext } from './context.ts';
import { findInteractions, pairKey } from './interactions.ts';
import { logCard } from './log.ts';
import { defaultHookOptions, prepare, timeLeft, type HookDeps } from './prepare.ts';
import { hasClinicalInput, suggest, countSubstitutions } from './suggest.ts';

export async function handleOrderSelect(serviceId: string, request: HookRequest, call: CallContext, deps: HookDeps): Promise<CdsResponse> {
  const options = { ...defaultHookOptions, ...deps.options };
  const ctx = orderSelectContext(request);
  const p = await prepare(request, call, ctx, deps, options);
  const cards: Card[] = [];
  const said: string[] = [];
  const log = (card: Card, kind: Parameters<typeof logCard>[2], labels: string[], suggestions: Array<{ uuid: string; label: string }> = []) =>
    logCard(deps, { serviceId, hook: request.hook, hookInstance: request.hookInstance, patientId: p.patientId, encounterId: p.encounterId }, kind, card, labels, suggestions);

  const className = (label: string) => deps.model.labelInfo(label)?.name ?? deps.mapping.labelEntry(label)?.name ?? label;
  const focus = p.drafts.medications.filter((m) => m.selected);
  for (const hit of findInteractions(focus, [...p.drafts.medications, ...p.active], deps.mapping)) {
    const card = interactionCard(hit, className, deps.mapping.name);
    cards.push(card);
    said.push(`ddi:${pairKey(hit.labelA, hit.labelB)}`);
    await log(card, 'interaction', [hit.labelA, hit.labelB]);
  }

  if (hasClinicalInput(p)) {
    timeLeft(call);
    const { candidates, withheld, substitutions } = await suggest(p, deps, options, deps.model.threshold, new Set(), call.signal);
    if (candidates.length > 0) {
      const built = suggestionCard({
        patientId: p.patientId,
        ...(p.encounterId ? { encounterId: p.encounterId } : {}),
        modelVersion: deps.model.version,
        candidates,
        withheld,
        notes: p.notes,
        substitutions,
        mode: 'select',
      });
      countSubstitutions(deps, request.hook, substitutions);
      cards.push(built.card);
      said.push(...candidates.map((c) => `suggest:${c.label}`));
      await log(built.card, 'suggestion', candidates.map((c) => c.label), built.suggestions);
    }
  }
  deps.sessionStore?.record({ issuer: call.issuer, patientId: p.patientId, encounterId: p.encounterId }, said);
  return { cards };
}
