// "Did you mean" for unknown keys in a mapping: the nearest key the schema knows anywhere.
import { z } from 'zod';

function collect(schema: z.ZodTypeAny, out: Set<string>, seen: Set<z.ZodTypeAny>): void {
  if (seen.has(schema)) return;
  seen.add(schema);
  if (schema instanceof z.ZodObject) {
    for (const [key, value] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
      out.add(key);
      collect(value, out, seen);
    }
  } else if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    collect(schema._def.innerType as z.ZodTypeAny, out, seen);
  } else if (schema instanceof z.ZodArray) {
    collect(schema.element as z.ZodTypeAny, out, seen);
  } else if (schema instanceof z.ZodDiscriminatedUnion || schema instanceof z.ZodUnion) {
    for (const option of schema.options as z.ZodTypeAny[]) collect(option, out, seen);
  } else if (schema instanceof z.ZodRecord) {
    collect(schema.valueSchema as z.ZodTypeAny, out, seen);
  } else if (schema instanceof z.ZodTuple) {
    for (const item of schema.items as z.ZodTypeAny[]) collect(item, out, seen);
  } else if (schema instanceof z.ZodEffects) {
    collect(schema.innerType() as z.ZodTypeAny, out, seen);
  }
}

export function schemaKeys(schema: z.ZodTypeAny): Set<string> {
  const out = new Set<string>();
  collect(schema, out, new Set());
  return out;
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

export function nearestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
