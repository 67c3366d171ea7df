// Parsers for numeric command-line options: a bad value is a one-line error naming the option (exit 2).
import { CliError } from './errors.ts';

export function numberOption(name: string, opts: { int?: boolean; min?: number; max?: number } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (opts.int && !Number.isInteger(n)))
      throw new CliError(`${name} must be ${opts.int ? 'an integer' : 'a number'}, got '${value}'`, 2);
    if (opts.min !== undefined && n < opts.min) throw new CliError(`${name} must be at least ${opts.min}, got ${n}`, 2);
    if (opts.max !== undefined && n > opts.max) throw new CliError(`${name} must be at most ${opts.max}, got ${n}`, 2);
    return n;
  };
}
