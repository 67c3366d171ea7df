// CSV / CSV.gz tables referenced by a mapping (concept maps, interaction pairs), read with csv-parse.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { MappingError } from './errors.ts';

export interface CsvRef {
  /** Mapping file that names the table, and the field that does (for error messages). */
  mappingFile: string;
  field: string;
  path: string;
}

/**
 * Streams the rows of a CSV (gzip when the name ends in .gz) as objects keyed by header, checking that
 * the wanted columns exist. Lines starting with `#` are comments (project-authored maps carry provenance there).
 */
export async function readCsvColumns(
  ref: CsvRef,
  columns: readonly string[],
  /** `line`: the record's line in the file (1-based, comment lines counted), for messages that name it. */
  onRow: (values: string[], line: number) => void,
): Promise<number> {
  const source = createReadStream(ref.path);
  const opened = new Promise<void>((resolve, reject) => {
    source.once('open', () => resolve());
    source.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MappingError(
      ref.mappingFile,
      ref.field,
      code === 'ENOENT' ? `file not found: ${ref.path}` : `cannot read ${ref.path}: ${(err as Error).message}`,
    );
  }
  const parser = parse({ comment: '#', skip_empty_lines: true, trim: true, relax_column_count: true, bom: true, info: true });
  const input = ref.path.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  input.on('error', (err: Error) => parser.destroy(err));
  input.pipe(parser);
  let indexes: number[] | undefined;
  let rows = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!indexes) {
        const header = record.map((h) => h.trim());
        indexes = columns.map((c) => header.indexOf(c));
        const missing = columns.filter((_, i) => indexes![i] === -1);
        if (missing.length > 0) {
          throw new MappingError(
            ref.mappingFile,
            ref.field,
            `${ref.path}: column(s) ${missing.map((m) => `'${m}'`).join(', ')} not in header (${header.join(', ')})`,
          );
        }
        continue;
      }
      rows++;
      onRow(
        indexes.map((i) => record[i] ?? ''),
        info.lines,
      );
    }
  } catch (err) {
    if (err instanceof MappingError) throw err;
    throw new MappingError(ref.mappingFile, ref.field, `${ref.path}: ${(err as Error).message}`);
  } finally {
    source.destroy();
  }
  if (!indexes) throw new MappingError(ref.mappingFile, ref.field, `${ref.path}: empty file (no header line)`);
  return rows;
}
