// The code map a model directory may carry (`code-map.json`, written by `teacher map-codes --write-map`):
// diagnosis and procedure codes the student never saw, each with the known code it is read as at serving.
// Validated against the model it sits beside; applying it to a record reports every substitution.
// No tfjs here: the serving path imports this module.
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { DatasetRecord } from '../../dataset/types.ts';

export const CODE_MAP_FILE = 'code-map.json';

const Entry = z
  .object({
    kind: z.enum(['diagnosis', 'procedure']),
    from: z.string().min(1),
    fromName: z.string(),
    to: z.string().min(1),
    toName: z.string(),
    similarity: z.number().min(-1).max(1),
  })
  .strict();

export const CodeMapFile = z
  .object({
    format: z.literal('leader-code-map'),
    version: z.literal(1),
    /** The model version the map was computed for (its vocabularies are the known codes). */
    modelVersion: z.string().min(1),
    embedder: z.string(),
    minSimilarity: z.number().min(-1).max(1),
    createdAt: z.string().datetime({ offset: true }),
    entries: z.array(Entry),
  })
  .strict();
export type CodeMapFile = z.infer<typeof CodeMapFile>;
export type CodeMapEntry = z.infer<typeof Entry>;

/** What a served prediction reports for each code read as another. */
export interface AppliedSubstitution {
  kind: 'diagnosis' | 'procedure';
  /** `current` or the earlier encounter's id. */
  encounter: string;
  from: string;
  to: string;
  toName: string;
  similarity: number;
}

export class CodeMapError extends Error {
  override name = 'CodeMapError';
}

export interface KnownCodes {
  modelVersion: string;
  diagnoses: readonly string[];
  procedures: readonly string[];
}

/** A validated code map, ready to apply. */
export class CodeMap {
  private readonly byKind: Record<'diagnosis' | 'procedure', Map<string, CodeMapEntry>> = { diagnosis: new Map(), procedure: new Map() };

  private constructor(readonly file: CodeMapFile) {
    for (const e of file.entries) this.byKind[e.kind].set(e.from, e);
  }

  get size(): number {
    return this.file.entries.length;
  }

  /**
   * Checks the map against the model: same version, every target a known code of its kind, no source
   * already known (the model reads it itself), no source mapped twice. `where` names the file in errors.
   */
  static validate(json: unknown, model: KnownCodes, where: string): CodeMap {
    const parsed = CodeMapFile.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CodeMapError(`${where}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const file = parsed.data;
    if (file.modelVersion !== model.modelVersion) {
      throw new CodeMapError(`${where}: computed for model ${file.modelVersion}, but the model is ${model.modelVersion}; run teacher map-codes again`);
    }
    const known = { diagnosis: new Set(model.diagnoses), procedure: new Set(model.procedures) };
    const seen = new Set<string>();
    file.entries.forEach((e, i) => {
      if (!known[e.kind].has(e.to)) throw new CodeMapError(`${where}: entries[${i}].to: ${e.to} is not a ${e.kind} code of the model`);
      if (known[e.kind].has(e.from)) throw new CodeMapError(`${where}: entries[${i}].from: ${e.from} is already a ${e.kind} code of the model`);
      const k = `${e.kind}\u0000${e.from}`;
      if (seen.has(k)) throw new CodeMapError(`${where}: entries[${i}].from: ${e.kind} ${e.from} is mapped twice`);
      seen.add(k);
    });
    return new CodeMap(file);
  }

  /** Reads `<dir>/code-map.json` when the folder has one; undefined when it has none. */
  static async readFromDir(dir: string, model: KnownCodes): Promise<CodeMap | undefined> {
    const file = path.join(dir, CODE_MAP_FILE);
    let raw: string;
    try {
      raw = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CodeMapError(`cannot read ${file}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new CodeMapError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    return CodeMap.validate(json, model, file);
  }

  /** The record with mapped codes replaced (current encounter and history), and each replacement; the input is not changed. */
  apply(record: DatasetRecord): { record: DatasetRecord; substitutions: AppliedSubstitution[] } {
    const substitutions: AppliedSubstitution[] = [];
    const map = (codes: readonly string[], kind: 'diagnosis' | 'procedure', encounter: string): string[] => {
      const table = this.byKind[kind];
      let out: string[] | undefined;
      codes.forEach((c, i) => {
        const e = table.get(c);
        if (!e) {
          out?.push(c);
          return;
        }
        out ??= codes.slice(0, i);
        substitutions.push({ kind, encounter, from: c, to: e.to, toName: e.toName, similarity: e.similarity });
        if (!out.includes(e.to) && !codes.includes(e.to)) out.push(e.to);
      });
      return out ?? (codes as string[]);
    };
    const diagnoses = map(record.diagnoses, 'diagnosis', 'current');
    const procedures = map(record.procedures, 'procedure', 'current');
    const history = record.history.map((v) => {
      const d = map(v.diagnoses, 'diagnosis', v.encounterId);
      const p = map(v.procedures, 'procedure', v.encounterId);
      return d === v.diagnoses && p === v.procedures ? v : { ...v, diagnoses: d, procedures: p };
    });
    if (substitutions.length === 0) return { record, substitutions };
    return { record: { ...record, diagnoses, procedures, history }, substitutions };
  }
}

/** Writes `code-map.json` into a model directory (temporary name, then rename). */
export async function writeCodeMap(dir: string, file: CodeMapFile): Promise<string> {
  const checked = CodeMapFile.parse(file);
  const target = path.join(dir, CODE_MAP_FILE);
  const tmp = `${target}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(checked, null, 2) + '\n');
  await rename(tmp, target);
  return target;
}
