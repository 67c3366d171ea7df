// order-select: warnings for interactions of the selected drafts, and model suggestions for the encounter.
import type { CallContext, CdsResponse, HookRequest } from '../contracts.ts';
import { HookAnswer } from './answer.ts';
import { orderSelectContext } from './context.ts';
import { findInteractions } from './interactions.ts';
import { defaultHookOptions, prepare, timeLeft, type HookDeps } from './prepare.ts';
import { hasClinicalInput, suggest } from './suggest.ts';

export async function handleOrderSelect(serviceId: string, request: HookRequest, call: CallContext, deps: HookDeps): Promise<CdsResponse> {
  const options = { ...defaultHookOptions, ...deps.options };
  const ctx = orderSelectContext(request);
  const p = await prepare(request, call, ctx, deps, options);
  const answer = new HookAnswer(deps, serviceId, request, p);

  const focus = p.drafts.medications.filter((m) => m.selected);
  for (const hit of findInteractions(focus, [...p.drafts.medications, ...p.active], deps.mapping)) await answer.interaction(hit);

  if (hasClinicalInput(p)) {
    timeLeft(call);
    await answer.suggestions(await suggest(p, deps, options, deps.model.threshold, new Set(), call.signal), 'select');
  }
  deps.sessionStore?.record({ issuer: call.issuer, patientId: p.patientId, encounterId: p.encounterId }, answer.said);
  return { cards: answer.cards };
}
