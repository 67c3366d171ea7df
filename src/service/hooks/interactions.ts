// Interacting pairs among the orders of a call, by the mapping's DDI list over medication labels.
import type { LoadedMapping } from '../../mapping/types.ts';
import type { OrderedMedication } from './orders.ts';

export interface Interaction {
  a: OrderedMedication;
  b: OrderedMedication;
  labelA: string;
  labelB: string;
}

/** Label-pair key, order-free: what the session store remembers as "already warned". */
export function pairKey(labelA: string, labelB: string): string {
  return labelA < labelB ? `${labelA}|${labelB}` : `${labelB}|${labelA}`;
}

/** Each interacting pair of orders once (focus orders against everything else, and among themselves). */
export function findInteractions(focus: readonly OrderedMedication[], others: readonly OrderedMedication[], mapping: LoadedMapping): Interaction[] {
  const seen = new Set<string>();
  const out: Interaction[] = [];
  for (const a of focus) {
    for (const b of others) {
      if (a.ref === b.ref) continue;
      const orders = a.ref < b.ref ? `${a.ref}|${b.ref}` : `${b.ref}|${a.ref}`;
      if (seen.has(orders)) continue;
      for (const la of a.labels) {
        const lb = b.labels.find((l) => mapping.interacts(la, l));
        if (lb === undefined) continue;
        seen.add(orders);
        out.push({ a, b, labelA: la, labelB: lb });
        break;
      }
    }
  }
  return out;
}

/** The current orders a candidate label would interact with. */
export function interactingOrders(label: string, orders: readonly OrderedMedication[], mapping: LoadedMapping): OrderedMedication[] {
  return orders.filter((o) => o.labels.some((l) => mapping.interacts(label, l)));
}
