// A CSV concept map held as source value -> labels, with the source's normalisation and case rule applied to keys
// on both sides (table and lookup): NDCs to 11 digits, names through the shared name normalisation.
import type { MedicationSource } from './schema.ts';
import { normaliseCode, transformLabel } from './normalise.ts';
import { readCsvColumns } from './csv-table.ts';
import { MappingError } from './errors.ts';
import { normaliseNdc } from '../terminology/ndc.ts';
import { normaliseName } from '../terminology/names.ts';

type ConceptMapSource = Extract<MedicationSource, { kind: 'concept-map' }>;

/** Why a lookup found nothing, for coverage reports: an NDC with letters is not the same as an unlisted NDC. */
export type LookupOutcome =
  | { kind: 'hit'; labels: readonly string[] }
  | { kind: 'miss' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'ambiguous'; candidates: string[] };

export class ConceptMap {
  /** Table rows whose source value could not be normalised (e.g. an NDC with letters), skipped at load. */
  skippedRows = 0;
  /** Looked-up values that are not valid for the normalisation (an NDC with letters): never matched, counted here. */
  invalidLookups = 0;
  /** The first few of them, for reports. */
  readonly invalidExamples: string[] = [];

  private constructor(
    readonly source: ConceptMapSource,
    readonly path: string,
    private readonly table: Map<string, string[]>,
  ) {}

  get size(): number {
    return this.table.size;
  }

  /** Lookup keys of a value: one for most normalisations, several 11-digit candidates for an ambiguous NDC. */
  keys(value: string): { keys: string[] } | { invalid: string } {
    if (this.source.normalise === 'ndc') {
      const form = normaliseNdc(value);
      return form.kind === 'ndc' ? { keys: form.candidates } : { invalid: form.reason };
    }
    if (this.source.match === 'text') {
      const name = normaliseName(value);
      return name ? { keys: [name] } : { invalid: 'empty name' };
    }
    const normalised = normaliseCode(value, this.source.normalise);
    const key = this.source.caseInsensitive ? normalised.toLowerCase() : normalised;
    return key ? { keys: [key] } : { invalid: 'empty code' };
  }

  lookupOutcome(value: string): LookupOutcome {
    const k = this.keys(value);
    if ('invalid' in k) {
      this.invalidLookups++;
      if (this.invalidExamples.length < 3 && !this.invalidExamples.includes(value)) this.invalidExamples.push(value.slice(0, 60));
      return { kind: 'invalid', reason: k.invalid };
    }
    const hits = k.keys.filter((key) => this.table.has(key));
    if (hits.length === 0) return { kind: 'miss' };
    // An unhyphenated 10-digit NDC reads three ways: accept it only when exactly one reading is in the table.
    if (hits.length > 1) return { kind: 'ambiguous', candidates: hits };
    return { kind: 'hit', labels: this.table.get(hits[0]!)! };
  }

  lookup(value: string): readonly string[] | undefined {
    const outcome = this.lookupOutcome(value);
    return outcome.kind === 'hit' ? outcome.labels : undefined;
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
      const k = map.keys(from);
      if ('invalid' in k) {
        map.skippedRows++;
        return;
      }
      const key = k.keys[0]!;
      if (k.keys.length > 1) {
        // An unhyphenated 10-digit NDC in the table itself cannot be placed. Fewer digits are an 11-digit NDC whose
        // leading zeros a spreadsheet dropped (the table's own form): its first candidate is that, padded back.
        if (from.replace(/\D/g, '').length >= 10) {
          map.skippedRows++;
          return;
        }
      }
      const label = transformLabel(to, source.transform);
      if (!label) return;
      const labels = table.get(key);
      if (!labels) table.set(key, [label]);
      else if (!labels.includes(label)) labels.push(label);
    });
    if (table.size === 0) {
      throw new MappingError(mappingFile, field, `${path}: no usable rows (${empty} with an empty cell, ${map.skippedRows} not normalisable)`);
    }
    return map;
  }
}
