// order-sign: the complete draft set re-checked (interactions, strongly indicated classes missing),
// leaving out what order-select (or an earlier order-sign) already said in this session.
import type { CallContext, CdsResponse, HookRequest } from '../contracts.ts';
import { HookAnswer } from './answer.ts';
import { orderSignContext } from './context.ts';
import { findInteractions } from './interactions.ts';
import { defaultHookOptions, prepare, timeLeft, type HookDeps } from './prepare.ts';
import { hasClinicalInput, suggest } from './suggest.ts';

export async function handleOrderSign(serviceId: string, request: HookRequest, call: CallContext, deps: HookDeps): Promise<CdsResponse> {
  const options = { ...defaultHookOptions, ...deps.options };
  const ctx = orderSignContext(request);
  const p = await prepare(request, call, { ...ctx, selections: [] }, deps, options);
  const session = { issuer: call.issuer, patientId: p.patientId, encounterId: p.encounterId };
  const before = deps.sessionStore?.said(session) ?? new Set<string>();
  const answer = new HookAnswer(deps, serviceId, request, p);

  for (const hit of findInteractions(p.drafts.medications, [...p.drafts.medications, ...p.active], deps.mapping)) {
    const key = HookAnswer.interactionKey(hit);
    if (before.has(key) || answer.said.includes(key)) continue;
    await answer.interaction(hit);
  }

  if (hasClinicalInput(p)) {
    timeLeft(call);
    const skip = new Set([...before].filter((s) => s.startsWith('suggest:')).map((s) => s.slice('suggest:'.length)));
    const floor = Math.max(options.strongThreshold, deps.model.threshold);
    await answer.suggestions(await suggest(p, deps, options, floor, skip, call.signal), 'sign');
  }
  deps.sessionStore?.record(session, answer.said);
  return { cards: answer.cards };
}
