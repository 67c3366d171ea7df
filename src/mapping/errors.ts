/** A mapping config that cannot be used: the message names the file and the field (`<file>: <field.path>: <message>`). */
export class MappingError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    readonly detail: string,
    /** Further problems found in the same file (validation reports all of them at once). */
    readonly others: ReadonlyArray<{ field: string | undefined; detail: string }> = [],
  ) {
    super(
      [{ field, detail }, ...others]
        .map((p) => (p.field ? `${file}: ${p.field}: ${p.detail}` : `${file}: ${p.detail}`))
        .join('\n'),
    );
    this.name = 'MappingError';
  }
}
