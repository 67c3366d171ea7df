// `--concept-map name=path` options -> loadMapping overrides.
import { MappingError } from './errors.ts';

export function parseConceptMapOptions(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0 || at === value.length - 1) {
      throw new MappingError('--concept-map', undefined, `expected name=path, got '${value}'`);
    }
    out[value.slice(0, at)] = value.slice(at + 1);
  }
  return out;
}
