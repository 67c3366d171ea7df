// order-sign: the complete draft set re-checked (interactions, strongly indicated classes missing),
// leaving out what order-select (or an earlier order-sign) already said in this session.
import type { Card, CallContext, CdsResponse, HookRequest } from '../contracts.ts';
import { interactionCard } from '../cards/interaction-card.ts';
import { suggestionCard } from '../cards/suggestion-card.ts';
import { orderSignContext } from './context.ts';
import { findInteractions, pairKey } from './interactions.ts';
import { logCard } from './log.ts';
import { defaultHookOptions, prepare, timeLeft, type HookDeps } from './prepare.ts';
import { hasClinicalInput, suggest, countSubstitutions } from './suggest.ts';

export async function handleOrderSign(serviceId: string, request: HookRequest, call: CallContext, deps: HookDeps): Promise<CdsResponse> {
  const options = { ...defaultHookOptions, ...deps.options };
  const ctx = orderSignContext(request);
  const p = await prepare(request, call, { ...ctx, selections: [] }, deps, options);
  const session = { issuer: call.issuer, patientId: p.patientId, encounterId: p.encounterId };
  const before = deps.sessionStore?.said(session) ?? new Set<string>();
  const cards: Card[] = [];
  const said: string[] = [];
  const log = (card: Card, kind: Parameters<typeof logCard>[2], labels: string[], suggestions: Array<{ uuid: string; label: string }> = []) =>
    logCard(deps, { serviceId, hook: request.hook, hookInstance: request.hookInstance, patientId: p.patientId, encounterId: p.encounterId }, kind, card, labels, suggestions);

  const className = (label: string) => deps.model.labelInfo(label)?.name ?? deps.mapping.labelEntry(label)?.name ?? label;
  for (const hit of findInteractions(p.drafts.medications, [...p.drafts.medications, ...p.active], deps.mapping)) {
    const key = `ddi:${pairKey(hit.labelA, hit.labelB)}`;
    if (before.has(key) || said.includes(key)) continue;
    const card = interactionCard(hit, className, deps.mapping.name);
    cards.push(card);
    said.push(key);
    await log(card, 'interaction', [hit.labelA, hit.labelB]);
  }

  if (hasClinicalInput(p)) {
    timeLeft(call);
    const skip = new Set([...before].filter((s) => s.startsWith('suggest:')).map((s) => s.slice('suggest:'.length)));
    const floor = Math.max(options.strongThreshold, deps.model.threshold);
    const { candidates, substitutions } = await suggest(p, deps, options, floor, skip, call.signal);
    if (candidates.length > 0) {
      const built = suggestionCard({
        patientId: p.patientId,
        ...(p.encounterId ? { encounterId: p.encounterId } : {}),
        modelVersion: deps.model.version,
        candidates,
        withheld: [],
        notes: p.notes,
        substitutions,
        mode: 'sign',
      });
      countSubstitutions(deps, request.hook, substitutions);
      cards.push(built.card);
      said.push(...candidates.map((c) => `suggest:${c.label}`));
      await log(built.card, 'missing-class', candidates.map((c) => c.label), built.suggestions);
    }
  }
  deps.sessionStore?.record(session, said);
  return { cards };
}
