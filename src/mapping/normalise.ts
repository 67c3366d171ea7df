// Code normalisation before lookup: sites write the same ICD code with and without dots, NDCs with and without dashes.
import type { z } from 'zod';
import type { Normalisation } from './schema.ts';

export type CodeNormalisation = z.infer<typeof Normalisation> | 'digits-only';

export function normaliseCode(code: string, how: CodeNormalisation): string {
  const trimmed = code.trim();
  switch (how) {
    case 'none':
      return trimmed;
    case 'strip-dots':
      return trimmed.replaceAll('.', '');
    case 'uppercase':
      return trimmed.toUpperCase();
    case 'strip-dots-uppercase':
      return trimmed.replaceAll('.', '').toUpperCase();
    case 'digits-only':
      return trimmed.replace(/\D+/g, '');
  }
}

/** Label transform: ATC level 3 is the first 4 characters of an ATC level-5 code. */
export function transformLabel(value: string, transform: { prefix?: number; uppercase?: boolean } | undefined): string {
  let out = value.trim();
  if (transform?.uppercase) out = out.toUpperCase();
  if (transform?.prefix !== undefined) out = out.slice(0, transform.prefix);
  return out;
}
