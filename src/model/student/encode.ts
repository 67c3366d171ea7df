// Turns dataset records into the student's index tensors (int, row-major). Per kind (diagnoses, procedures,
// medication history), the batch's non-empty code sets are packed once:
//   codes [N, C]: row 0 is an always-empty padding set, rows 1.. the real sets, each padded with 0 to the widest set;
//   slots [B, V]: for each record and encounter slot, the row of its set (0 = no set there).
// Diagnosis and procedure slots run over the kept encounters, oldest first, the current one last; medication slots
// over the kept earlier encounters (the model puts the profile prompt in front). profile [B, F]: one value index per field.
// Slots are right-aligned: a record with fewer encounters than V has its padding in front, so the last diagnosis or
// procedure slot is always the current encounter and slot v is V-1-v encounters before it (medication slot v: V-v).
// The recency embedding (config.recency = 'position') reads that distance from the slot position alone.
// Packing only real sets keeps padding out of the per-set transformer (most slots of a batch are empty).
// Only the most recent maxVisits encounters are kept (defect 3: the current encounter always survives).
import type { DatasetRecord } from '../../dataset/types.ts';
import type { StudentConfig } from './config.ts';
import { FIRST, type VocabIndex } from './vocab.ts';

export type CodeKind = 'diagnosis' | 'procedure' | 'medication' | 'profile';

export interface UnknownCode {
  kind: CodeKind;
  /** The token, label, or `field=value` for profile values. */
  code: string;
}

export interface IndexTensor {
  data: Int32Array;
  shape: number[];
}

export interface PackedSets {
  codes: IndexTensor;
  slots: IndexTensor;
}

export interface EncodedBatch {
  size: number;
  diagnoses: PackedSets;
  procedures: PackedSets;
  medications: PackedSets;
  profile: IndexTensor;
  /** Per record: codes outside the vocabularies. */
  unknown: UnknownCode[][];
  /** Per record: whether at least one diagnosis, procedure or medication-history code was recognised. */
  known: boolean[];
}

export interface EncodeOptions {
  /** `batch`: shrink slot and code dimensions to the batch's content; `full`: maxVisits slots and maxCodes wide sets. */
  pad?: 'batch' | 'full';
}

interface RecordCodes {
  diag: number[][];
  proc: number[][];
  med: number[][];
  profile: number[];
  unknown: UnknownCode[];
  known: boolean;
}

/** Per record, per slot: the codes of the set there (empty slots give []). For checks and debugging. */
export function unpackSets(p: PackedSets): number[][][] {
  const [rows, width] = p.codes.shape as [number, number];
  const [batch, slots] = p.slots.shape as [number, number];
  const set = (row: number) => (row <= 0 || row >= rows ? [] : [...p.codes.data.subarray(row * width, (row + 1) * width)].filter((c) => c !== 0));
  return Array.from({ length: batch }, (_, b) => Array.from({ length: slots }, (_, v) => set(p.slots.data[b * slots + v]!)));
}

/** Keeps the most recent `keep` earlier encounters. */
export function recentHistory<T>(history: readonly T[], keep: number): T[] {
  const n = Math.max(0, Math.min(history.length, keep));
  return history.slice(history.length - n);
}

export class Encoder {
  private buffers = new Map<string, Int32Array>();

  constructor(
    readonly vocab: VocabIndex,
    readonly config: Pick<StudentConfig, 'maxVisits' | 'maxCodes'>,
  ) {}

  private set(
    tokens: readonly string[],
    table: Map<string, number>,
    kind: CodeKind,
    unknown: UnknownCode[],
    state: { known: boolean },
  ): number[] {
    const out: number[] = [];
    const seen = new Set<number>();
    for (const t of tokens) {
      const row = table.get(t);
      if (row === undefined) {
        unknown.push({ kind, code: t });
        const u = this.vocab.unknownRow;
        if (u !== 0 && !seen.has(u) && out.length < this.config.maxCodes) {
          seen.add(u);
          out.push(u);
        }
        continue;
      }
      state.known = true;
      if (seen.has(row) || out.length >= this.config.maxCodes) continue;
      seen.add(row);
      out.push(row);
    }
    return out;
  }

  private codes(r: DatasetRecord): RecordCodes {
    const unknown: UnknownCode[] = [];
    const state = { known: false };
    const kept = recentHistory(r.history, this.config.maxVisits - 1);
    const v = this.vocab;
    const diag = [...kept.map((h) => h.diagnoses), r.diagnoses].map((s) => this.set(s, v.diagnoses, 'diagnosis', unknown, state));
    const proc = [...kept.map((h) => h.procedures), r.procedures].map((s) => this.set(s, v.procedures, 'procedure', unknown, state));
    const med = kept.map((h) => this.set(h.medications, v.medications, 'medication', unknown, state));
    const profile = v.profile.map(({ field, index }) => {
      const value = r.profile[field];
      if (value === undefined) return 0;
      const row = index.get(value);
      if (row !== undefined) return row;
      unknown.push({ kind: 'profile', code: `${field}=${value}` });
      return v.unknownRow;
    });
    return { diag, proc, med, profile, unknown, known: state.known };
  }

  private buffer(name: string, length: number): Int32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < length) this.buffers.set(name, (b = new Int32Array(Math.max(length, (b?.length ?? 0) * 2))));
    const view = b.subarray(0, length);
    view.fill(0);
    return view;
  }

  /** Packs per-record lists of code sets; `fullSlots` fixes the slot dimension and the set width (full padding). */
  private pack(name: string, sets: number[][][], fullSlots?: number): PackedSets {
    let slots = fullSlots ?? 1;
    let width = fullSlots === undefined ? 1 : this.config.maxCodes;
    let rows = 1;
    for (const s of sets) {
      if (fullSlots === undefined) slots = Math.max(slots, s.length);
      for (const codes of s)
        if (codes.length > 0) {
          rows++;
          if (fullSlots === undefined) width = Math.max(width, codes.length);
        }
    }
    const codes = this.buffer(`${name}.codes`, rows * width);
    const slotData = this.buffer(`${name}.slots`, sets.length * slots);
    let row = 1;
    sets.forEach((s, b) => {
      const first = b * slots + slots - s.length;
      s.forEach((set, v) => {
        if (set.length === 0) return;
        codes.set(set, row * width);
        slotData[first + v] = row++;
      });
    });
    return { codes: { data: codes, shape: [rows, width] }, slots: { data: slotData, shape: [sets.length, slots] } };
  }

  /** Encodes records into batch tensors. The returned arrays are reused by the next call. */
  encode(records: readonly DatasetRecord[], options: EncodeOptions = {}): EncodedBatch {
    const full = options.pad === 'full';
    const all = records.map((r) => this.codes(r));
    const fields = this.vocab.profile.length;
    const profile = this.buffer('profile', records.length * fields);
    all.forEach((c, b) => profile.set(c.profile, b * fields));
    const visits = full ? this.config.maxVisits : undefined;
    return {
      size: records.length,
      diagnoses: this.pack('diagnoses', all.map((c) => c.diag), visits),
      procedures: this.pack('procedures', all.map((c) => c.proc), visits),
      // At least one slot so that no tensor has a zero-sized dimension.
      medications: this.pack('medications', all.map((c) => c.med), full ? Math.max(1, this.config.maxVisits - 1) : undefined),
      profile: { data: profile, shape: [records.length, fields] },
      unknown: all.map((c) => c.unknown),
      known: all.map((c) => c.known),
    };
  }

  /** Medication-table rows of each record's target labels (alignment loss): label i -> row i + 2 (defect 2). */
  currentMedications(records: readonly DatasetRecord[]): IndexTensor {
    const rows = records.map((r) => {
      const out: number[] = [];
      for (const l of r.labels) {
        const row = this.vocab.medications.get(l);
        if (row !== undefined && row >= FIRST && !out.includes(row) && out.length < this.config.maxCodes) out.push(row);
      }
      return out;
    });
    const width = Math.max(1, ...rows.map((r) => r.length));
    const data = new Int32Array(records.length * width);
    rows.forEach((r, b) => data.set(r, b * width));
    return { data, shape: [records.length, width] };
  }

  /** Multi-hot targets aligned with the label vocabulary. */
  targets(records: readonly DatasetRecord[]): Float32Array {
    const n = this.vocab.vocab.labels.length;
    const y = new Float32Array(records.length * n);
    records.forEach((r, b) => {
      for (const l of r.labels) {
        const row = this.vocab.medications.get(l);
        if (row !== undefined) y[b * n + row - FIRST] = 1;
      }
    });
    return y;
  }
}
