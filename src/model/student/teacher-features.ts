// Teacher features for offline distillation (docs/teacher-features.md): a folder holding
//   features.json  { format: 'leader-teacher-features', version: 1, dim, rows: [{ patientId, encounterId }], source, createdAt }
//   features.f32   float32 little-endian, row-major [rows.length, dim]
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

export const FEATURES_JSON = 'features.json';
export const FEATURES_F32 = 'features.f32';

export const TeacherFeaturesIndex = z
  .object({
    format: z.literal('leader-teacher-features'),
    version: z.literal(1),
    dim: z.number().int().positive(),
    rows: z.array(z.object({ patientId: z.string().min(1), encounterId: z.string().min(1) }).strict()),
    /** What produced the features (teacher model, checkpoint, dataset fingerprint). */
    source: z.string(),
    createdAt: z.string().datetime({ offset: true }),
  })
  .strict();
export type TeacherFeaturesIndex = z.infer<typeof TeacherFeaturesIndex>;

export class TeacherFeaturesError extends Error {
  override name = 'TeacherFeaturesError';
}

export class TeacherFeatures {
  private readonly byKey = new Map<string, number>();

  constructor(
    readonly index: TeacherFeaturesIndex,
    readonly data: Float32Array,
  ) {
    index.rows.forEach((r, i) => this.byKey.set(key(r.patientId, r.encounterId), i));
  }

  get dim(): number {
    return this.index.dim;
  }

  /** The feature row of one record (a view, not a copy), or undefined when the file has none. */
  get(patientId: string, encounterId: string): Float32Array | undefined {
    const i = this.byKey.get(key(patientId, encounterId));
    return i === undefined ? undefined : this.data.subarray(i * this.dim, (i + 1) * this.dim);
  }
}

function key(patientId: string, encounterId: string): string {
  return `${patientId}\u0000${encounterId}`;
}

/** Accepts the folder or its features.json. */
export async function readTeacherFeatures(location: string): Promise<TeacherFeatures> {
  const dir = location.endsWith('.json') ? path.dirname(location) : location;
  const jsonPath = path.join(dir, FEATURES_JSON);
  const binPath = path.join(dir, FEATURES_F32);
  let raw: string;
  try {
    raw = await readFile(jsonPath, 'utf8');
  } catch (err) {
    throw new TeacherFeaturesError(`teacher features: cannot read ${jsonPath}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new TeacherFeaturesError(`teacher features: ${jsonPath} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = TeacherFeaturesIndex.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TeacherFeaturesError(`teacher features: ${jsonPath}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const index = parsed.data;
  const seen = new Set<string>();
  index.rows.forEach((r, i) => {
    const k = key(r.patientId, r.encounterId);
    if (seen.has(k)) throw new TeacherFeaturesError(`teacher features: ${jsonPath}: rows[${i}] repeats patient ${r.patientId} encounter ${r.encounterId}`);
    seen.add(k);
  });
  const expected = index.rows.length * index.dim * 4;
  let size: number;
  try {
    size = (await stat(binPath)).size;
  } catch (err) {
    throw new TeacherFeaturesError(`teacher features: cannot read ${binPath}: ${(err as Error).message}`);
  }
  if (size !== expected)
    throw new TeacherFeaturesError(
      `teacher features: ${binPath} has ${size} bytes, expected ${expected} (${index.rows.length} rows x ${index.dim} float32)`,
    );
  const buf = await readFile(binPath);
  const data = new Float32Array(index.rows.length * index.dim);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < data.length; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!Number.isFinite(v))
      throw new TeacherFeaturesError(`teacher features: ${binPath}: row ${Math.floor(i / index.dim)} (patient ${index.rows[Math.floor(i / index.dim)]!.patientId}) holds a non-finite value`);
    data[i] = v;
  }
  return new TeacherFeatures(index, data);
}

export interface TeacherFeaturesInput {
  dim: number;
  rows: Array<{ patientId: string; encounterId: string }>;
  data: Float32Array;
  source: string;
  createdAt?: string;
}

/** Writes the folder atomically (temp folder, then rename). */
export async function writeTeacherFeatures(dir: string, input: TeacherFeaturesInput): Promise<void> {
  if (input.data.length !== input.rows.length * input.dim)
    throw new TeacherFeaturesError(`teacher features: ${input.data.length} values for ${input.rows.length} rows x ${input.dim}`);
  const index: TeacherFeaturesIndex = TeacherFeaturesIndex.parse({
    format: 'leader-teacher-features',
    version: 1,
    dim: input.dim,
    rows: input.rows,
    source: input.source,
    createdAt: input.createdAt ?? new Date().toISOString(),
  });
  const bytes = Buffer.alloc(input.data.length * 4);
  for (let i = 0; i < input.data.length; i++) bytes.writeFloatLE(input.data[i]!, i * 4);
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  await writeFile(path.join(tmp, FEATURES_F32), bytes);
  await writeFile(path.join(tmp, FEATURES_JSON), JSON.stringify(index) + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}
