// Code normalisation before lookup: sites write the same ICD code with and without dots, NDCs with and without dashes.
import type { z } from 'zod';
import type { Normalisation } from './schema.ts';

export type CodeNormalisation = z.infer<typeof Normalisation> | 'digits-only';

/** The normalised code; '' (no code, so no lookup) for a value that is not a string, as malformed FHIR JSON can hold. */
export function normaliseCode(code: unknown, how: CodeNormalisation): string {
  if (typeof code !== 'string') return '';
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

/** Label transform: ATC level 3 is the first 4 characters of an ATC level-5 code; '' for a value that is not a string. */
export function transformLabel(value: unknown, transform: { prefix?: number; uppercase?: boolean } | undefined): string {
  if (typeof value !== 'string') return '';
  let out = value.trim();
  if (transform?.uppercase) out = out.toUpperCase();
  if (transform?.prefix !== undefined) out = out.slice(0, transform.prefix);
  return out;
}
