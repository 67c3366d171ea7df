// One name normalisation for ingredient tables, `match: "text"` concept maps and parsed RxNorm names, so the
// same drug written "Metformin  Hydrochloride", "metformin hydrochloride" or "METFORMIN-HYDROCHLORIDE" meets itself.

/** Lower case, accents removed, every run of characters other than a-z / 0-9 turned into one space, trimmed. */
export function normaliseName(value: unknown): string {
  if (typeof value !== 'string') return '';
  return value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}
