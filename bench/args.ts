// Command-line options of the benches (`npm run bench:x -- --name value`): a bad number stops the bench with a
// message naming the option, exit 2.
export interface BenchArgs {
  /** The value after `name`, if given. */
  option(name: string): string | undefined;
  /** Whether a switch such as `--keep` is present. */
  flag(name: string): boolean;
  /** A whole number >= min (`_` and `,` allowed as digit separators), or the fallback when absent. */
  intOption(name: string, fallback: number, min?: number): number;
}

export function benchArgs(bench: string, argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  const option = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  return {
    option,
    flag: (name) => argv.includes(name),
    intOption(name, fallback, min = 1) {
      const raw = option(name);
      if (raw === undefined) return fallback;
      const n = Number(raw.replace(/[_,]/g, ''));
      if (!Number.isSafeInteger(n) || n < min) {
        process.stderr.write(`${bench}: ${name} must be an integer >= ${min}, got "${raw}"\n`);
        process.exit(2);
      }
      return n;
    },
  };
}
