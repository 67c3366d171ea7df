// Hands each emitted card to the card log (feedback store) and the card counter.
import type { Card } from '../contracts.ts';
import type { CardKind } from './ports.ts';
import type { HookDeps } from './prepare.ts';

export interface CardOrigin {
  serviceId: string;
  hook: string;
  hookInstance: string;
  patientId: string;
  encounterId?: string;
}

export async function logCard(
  deps: Pick<HookDeps, 'cardLog' | 'metrics' | 'model'>,
  origin: CardOrigin,
  kind: CardKind,
  card: Card,
  labels: string[],
  suggestions: Array<{ uuid: string; label: string }>,
): Promise<void> {
  deps.metrics?.cards?.(origin.hook, kind, 1);
  if (!deps.cardLog || !card.uuid) return;
  await deps.cardLog.record({
    cardUuid: card.uuid,
    kind,
    serviceId: origin.serviceId,
    hook: origin.hook,
    hookInstance: origin.hookInstance,
    patientId: origin.patientId,
    ...(origin.encounterId ? { encounterId: origin.encounterId } : {}),
    modelVersion: deps.model.version,
    labels,
    suggestions,
    createdAt: new Date().toISOString(),
  });
}
