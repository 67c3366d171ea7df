// A CSV concept map held as source value -> labels, with the source's normalisation and case rule applied to keys.
import type { MedicationSource } from './schema.ts';
import { normaliseCode, transformLabel } from './normalise.ts';
import { readCsvColumns } from './csv-table.ts';
import { MappingError } from './errors.ts';

type ConceptMapSource = Extract<MedicationSource, { kind: 'concept-map' }>;

export class ConceptMap {
  private constructor(
    readonly source: ConceptMapSource,
    readonly path: string,
    private readonly table: Map<string, string[]>,
  ) {}

  get size(): number {
    return this.table.size;
  }

  key(value: string): string {
    const normalised = normaliseCode(value, this.source.normalise);
    return this.source.caseInsensitive ? normalised.toLowerCase() : normalised;
  }

  lookup(value: string): readonly string[] | undefined {
    return this.table.get(this.key(value));
  }

  static async load(source: ConceptMapSource, path: string, mappingFile: string, field: string): Promise<ConceptMap> {
    const table = new Map<string, string[]>();
    const map = new ConceptMap(source, path, table);
    let empty = 0;
    await readCsvColumns({ mappingFile, field, path }, [source.fromColumn, source.toColumn], ([from, to]) => {
      if (!from || !to) {
        empty++;
        return;
      }
      const key = map.key(from);
      const label = transformLabel(to, source.transform);
      if (!key || !label) return;
      const labels = table.get(key);
      if (!labels) table.set(key, [label]);
      else if (!labels.includes(label)) labels.push(label);
    });
    if (table.size === 0) {
      throw new MappingError(mappingFile, field, `${path}: no usable rows (${empty} with an empty cell)`);
    }
    return map;
  }
}
