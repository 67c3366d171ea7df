// US National Drug Codes to the 11-digit 5-4-2 form (labeler-product-package), the form CMS billing and most
// crosswalks use. FDA assigns 10-digit NDCs in three segmentations (4-4-2, 5-3-2, 5-4-1); the 11-digit form pads
// the short segment with a leading zero. Hyphens tell which segment is short; without them a 10-digit code is
// ambiguous and yields all three candidates (the caller accepts a unique hit in its table only). Numbers that
// lost leading zeros in a spreadsheet (fewer than 10 digits) are padded back before the same expansion.

export type NdcForm =
  | { kind: 'ndc'; /** 11-digit candidates, most likely first; one when the input was unambiguous. */ candidates: string[] }
  | { kind: 'invalid'; reason: string };

const SEGMENTED = /^(\d{4,5})-(\d{3,4})-(\d{1,2})$/;

function pad(value: string, width: number): string {
  return value.padStart(width, '0');
}

/** The three 11-digit readings of an unhyphenated 10-digit NDC: 4-4-2, 5-3-2, 5-4-1. */
function tenDigitCandidates(d: string): string[] {
  return [`0${d}`, `${d.slice(0, 5)}0${d.slice(5)}`, `${d.slice(0, 9)}0${d.slice(9)}`];
}

export function normaliseNdc(value: unknown): NdcForm {
  if (typeof value !== 'string') return { kind: 'invalid', reason: 'not a string' };
  const text = value.trim().replace(/\s+/g, '');
  if (!text) return { kind: 'invalid', reason: 'empty' };
  if (/[A-Za-z]/.test(text)) return { kind: 'invalid', reason: `'${value}' contains letters (an NDC is digits and hyphens)` };
  const seg = SEGMENTED.exec(text);
  if (seg) {
    const [, labeler, product, pkg] = seg as unknown as [string, string, string, string];
    const digits = labeler.length + product.length + pkg.length;
    // 11 digits as 5-4-2, or a 10-digit 4-4-2 / 5-3-2 / 5-4-1; anything else is not an FDA segmentation.
    if (digits === 11 && labeler.length === 5 && product.length === 4 && pkg.length === 2) return { kind: 'ndc', candidates: [text.replaceAll('-', '')] };
    if (digits === 10) return { kind: 'ndc', candidates: [`${pad(labeler, 5)}${pad(product, 4)}${pad(pkg, 2)}`] };
    return { kind: 'invalid', reason: `'${value}' is not a 4-4-2, 5-3-2, 5-4-1 or 5-4-2 NDC` };
  }
  if (text.includes('-')) return { kind: 'invalid', reason: `'${value}' has hyphens but not an NDC segmentation` };
  if (!/^\d+$/.test(text)) return { kind: 'invalid', reason: `'${value}' has characters other than digits and hyphens` };
  if (text.length === 11) return { kind: 'ndc', candidates: [text] };
  if (text.length > 11) return { kind: 'invalid', reason: `'${value}' has more than 11 digits` };
  if (text.length === 10) return { kind: 'ndc', candidates: tenDigitCandidates(text) };
  if (text.length < 6) return { kind: 'invalid', reason: `'${value}' has too few digits for an NDC` };
  // Lost leading zeros: the 11-digit form padded back, and the 10-digit readings of the padded 10-digit form.
  const out = [pad(text, 11)];
  for (const c of tenDigitCandidates(pad(text, 10))) if (!out.includes(c)) out.push(c);
  return { kind: 'ndc', candidates: out };
}
