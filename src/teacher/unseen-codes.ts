// Unseen codes: a diagnosis or procedure the student never saw, but with a display name, is replaced by
// the known code of the same kind whose name embeds closest, and the substitution is reported.
// Embedders: the teacher's pooled state of the name (semantic, as good as the teacher), or hashed
// character trigrams (lexical, no model needed).
import * as tf from '@tensorflow/tfjs-core';
import type { DatasetRecord } from '../dataset/types.ts';
import type { LoadedTeacher } from './artifact.ts';
import { padBatch } from './decoder.ts';
import { displayName } from './prompt.ts';

/** Unit-length vectors, one per name. */
export type NameEmbedder = (names: readonly string[]) => Float32Array[];

function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

/** Hashed character trigrams of the lower-cased name (word boundaries marked), 512 dimensions. */
export function trigramEmbedder(dim = 512): NameEmbedder {
  return (names) =>
    names.map((name) => {
      const v = new Float32Array(dim);
      for (const word of name.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean)) {
        const w = `#${word}#`;
        for (let i = 0; i + 3 <= w.length; i++) {
          let h = 2166136261;
          for (let k = i; k < i + 3; k++) h = Math.imul(h ^ w.charCodeAt(k), 16777619);
          v[(h >>> 0) % dim]! += 1;
        }
      }
      return normalise(v);
    });
}

/** The teacher's final-token hidden state of the bare name (what its head reads), L2-normalised. */
export function teacherNameEmbedder(teacher: LoadedTeacher, batchSize = 32): NameEmbedder {
  return (names) => {
    const out: Float32Array[] = [];
    for (let s = 0; s < names.length; s += batchSize) {
      const chunk = names.slice(s, s + batchSize);
      const batch = padBatch(chunk.map((n) => teacher.tokenizer.encodePrompt(n)), teacher.tokenizer.padId);
      const h = teacher.decoder.pooled(batch);
      const data = h.dataSync() as Float32Array;
      tf.dispose(h);
      const D = teacher.decoder.config.hiddenSize;
      chunk.forEach((_, i) => out.push(normalise(data.slice(i * D, (i + 1) * D))));
    }
    return out;
  };
}

export interface Neighbour {
  token: string;
  name: string;
  similarity: number;
}

/** Known codes of one kind, embedded once; nearest-neighbour search by cosine similarity. */
export class CodeNeighbours {
  private readonly tokens: string[] = [];
  private readonly names: string[] = [];
  private readonly vectors: Float32Array[];

  constructor(
    known: ReadonlyArray<{ token: string; name: string }>,
    private readonly embed: NameEmbedder,
  ) {
    for (const k of known) {
      if (k.name.trim() === '') continue;
      this.tokens.push(k.token);
      this.names.push(k.name);
    }
    this.vectors = this.names.length ? embed(this.names) : [];
  }

  get size(): number {
    return this.tokens.length;
  }

  nearest(name: string): Neighbour | undefined {
    if (this.vectors.length === 0 || name.trim() === '') return undefined;
    const q = this.embed([name])[0]!;
    let best = -1;
    let bestSim = -Infinity;
    this.vectors.forEach((v, i) => {
      let s = 0;
      for (let k = 0; k < v.length; k++) s += v[k]! * q[k]!;
      if (s > bestSim) {
        bestSim = s;
        best = i;
      }
    });
    return best < 0 ? undefined : { token: this.tokens[best]!, name: this.names[best]!, similarity: bestSim };
  }
}

export interface CodeSubstitution {
  kind: 'diagnosis' | 'procedure';
  /** `current` or the earlier encounter's id. */
  encounter: string;
  from: string;
  fromName: string;
  to: string;
  toName: string;
  similarity: number;
}

export interface SubstitutionOptions {
  known: { diagnoses: ReadonlySet<string>; procedures: ReadonlySet<string> };
  neighbours: { diagnosis: CodeNeighbours; procedure: CodeNeighbours };
  names: Readonly<Record<string, string>>;
  /** Below this cosine similarity a code stays unknown. */
  minSimilarity: number;
}

/**
 * A copy of the record with unknown named codes replaced by their nearest known code (current encounter
 * and history), and the list of what was replaced. Codes without a name, or without a close enough
 * neighbour, are left as they are (the student treats them as unknown).
 */
export function substituteUnseenCodes(record: DatasetRecord, o: SubstitutionOptions): { record: DatasetRecord; substitutions: CodeSubstitution[] } {
  const substitutions: CodeSubstitution[] = [];
  const cache = new Map<string, Neighbour | null>();
  const map = (tokens: readonly string[], kind: 'diagnosis' | 'procedure', encounter: string): string[] => {
    const known = kind === 'diagnosis' ? o.known.diagnoses : o.known.procedures;
    const out: string[] = [];
    for (const t of tokens) {
      const name = o.names[t];
      if (known.has(t) || !name) {
        out.push(t);
        continue;
      }
      let n = cache.get(`${kind}\u0000${t}`);
      if (n === undefined) {
        n = o.neighbours[kind].nearest(name) ?? null;
        cache.set(`${kind}\u0000${t}`, n);
      }
      if (n && n.similarity >= o.minSimilarity) {
        substitutions.push({ kind, encounter, from: t, fromName: displayName(t, o.names), to: n.token, toName: n.name, similarity: n.similarity });
        if (!out.includes(n.token)) out.push(n.token);
      } else out.push(t);
    }
    return out;
  };
  const mapped: DatasetRecord = {
    ...record,
    history: record.history.map((v) => ({ ...v, diagnoses: map(v.diagnoses, 'diagnosis', v.encounterId), procedures: map(v.procedures, 'procedure', v.encounterId) })),
    diagnoses: map(record.diagnoses, 'diagnosis', 'current'),
    procedures: map(record.procedures, 'procedure', 'current'),
  };
  return { record: mapped, substitutions };
}
