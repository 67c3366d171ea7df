// Text rules shared by all cards: summaries under 140 characters, Markdown that cannot be broken by data.

export const MAX_SUMMARY = 139;

/** Cuts at a word boundary and marks the cut, so that a long drug name never overflows the summary. */
export function summary(text: string, max = MAX_SUMMARY): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/, '')}…`;
}

/** Escapes the inline Markdown (and HTML) characters so that names from FHIR data render as text; names sit mid-line, so block markers need no escape. */
export function md(text: string): string {
  return text.replace(/[\\`*_[\]<>|~]/g, '\\$&').replace(/\s+/g, ' ').trim();
}

export function percent(p: number): string {
  return `${(p * 100).toFixed(p >= 0.995 || p < 0.1 ? 1 : 0)}%`;
}

/** A list joined for prose: "a", "a and b", "a, b and c". */
export function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Inline code span: backticks in data would end it early, so they are replaced. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\s+/g, ' ').trim()}\``;
}
