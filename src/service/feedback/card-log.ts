// Binds the hook handlers' card log port to the feedback store: every label a card proposed is recorded
// with its model version, so feedback can be summarised per model version and label.
import type { CardLog, CardLogEntry } from '../hooks/ports.ts';
import type { FeedbackStore, IssuedCard } from './store.ts';

export function issuedCardsOf(entry: CardLogEntry): IssuedCard[] {
  const base = {
    service: entry.serviceId,
    cardUuid: entry.cardUuid,
    modelVersion: entry.modelVersion,
    hookInstance: entry.hookInstance,
    issuedAt: entry.createdAt,
  };
  const rows: IssuedCard[] = entry.suggestions.map((s) => ({ ...base, suggestionUuid: s.uuid, label: s.label }));
  // Labels the card names without a suggestion of their own (e.g. an interaction warning) count at card level.
  const carried = new Set(entry.suggestions.map((s) => s.label));
  for (const label of entry.labels) if (!carried.has(label)) rows.push({ ...base, label });
  return rows;
}

export function cardLogPort(store: FeedbackStore): CardLog {
  return {
    record(entry: CardLogEntry): void {
      store.recordIssuedCards(issuedCardsOf(entry));
    },
  };
}
