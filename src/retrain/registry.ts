// The model registry on disk: versions under `<root>/<version>/` (manifest.json + model.onnx + evaluation), and
// `<root>/registry.json` saying which version is served and what was promoted or rolled back when.
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { readModelDir } from '../model/runtime/model-dir.ts';

const VersionEntry = z
  .object({
    version: z.string().min(1),
    dir: z.string().min(1),
    registeredAt: z.string(),
    status: z.enum(['candidate', 'promoted', 'rejected', 'retired']),
    /** Relative path of the evaluation report that the gate read, when there is one. */
    evaluation: z.string().optional(),
    gate: z.object({ passed: z.boolean(), reasons: z.array(z.string()) }).optional(),
    datasetFingerprint: z.string().optional(),
  })
  .strict();

const RegistryFile = z
  .object({
    current: z.string().nullable(),
    versions: z.array(VersionEntry),
    history: z.array(z.object({ at: z.string(), action: z.enum(['promote', 'rollback']), from: z.string().nullable(), to: z.string() }).strict()),
  })
  .strict();

export type VersionEntry = z.infer<typeof VersionEntry>;
export type RegistryFile = z.infer<typeof RegistryFile>;

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$/;

export class ModelRegistry {
  readonly file: string;

  constructor(readonly root: string) {
    this.root = resolve(root);
    this.file = join(this.root, 'registry.json');
  }

  async read(): Promise<RegistryFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return { current: null, versions: [], history: [] };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new RegistryError(`${this.file}: not JSON (${(err as Error).message})`);
    }
    const parsed = RegistryFile.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RegistryError(`${this.file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return parsed.data;
  }

  private async write(data: RegistryFile): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const tmp = `${this.file}.${randomUUID().slice(0, 8)}.tmp`;
    await writeFile(tmp, JSON.stringify(data, null, 2) + '\n');
    await rename(tmp, this.file);
  }

  async list(): Promise<Array<VersionEntry & { current: boolean }>> {
    const data = await this.read();
    return data.versions.map((v) => ({ ...v, current: v.version === data.current }));
  }

  /** Absolute directory of the served version, or undefined when nothing is promoted. */
  async currentDir(): Promise<{ version: string; dir: string } | undefined> {
    const data = await this.read();
    const entry = data.versions.find((v) => v.version === data.current);
    return entry ? { version: entry.version, dir: resolve(this.root, entry.dir) } : undefined;
  }

  /**
   * Copies a finished model directory into the registry as a candidate. The copy goes to a temporary name first, so a
   * crash never leaves a half-copied version. Registering the same version twice is a no-op when the ONNX is identical.
   */
  async register(modelDir: string, extra: { evaluationFile?: string } = {}): Promise<VersionEntry> {
    const files = await readModelDir(modelDir);
    const version = files.manifest.modelVersion;
    if (!VERSION_PATTERN.test(version)) throw new RegistryError(`model version "${version}" is not a safe folder name`);
    const data = await this.read();
    const existing = data.versions.find((v) => v.version === version);
    if (existing) {
      const theirs = await readModelDir(resolve(this.root, existing.dir));
      if (theirs.manifest.onnx.sha256 !== files.manifest.onnx.sha256) {
        throw new RegistryError(`version ${version} is already registered with a different model`);
      }
      return existing;
    }
    const target = join(this.root, version);
    const tmp = join(this.root, `.tmp-${version}-${randomUUID().slice(0, 8)}`);
    await cp(modelDir, tmp, { recursive: true });
    if (extra.evaluationFile) await cp(extra.evaluationFile, join(tmp, 'evaluation.json'));
    if (await stat(target).then(() => true, () => false)) await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
    const entry: VersionEntry = {
      version,
      dir: basename(target),
      registeredAt: new Date().toISOString(),
      status: 'candidate',
      ...(extra.evaluationFile ? { evaluation: `${version}/evaluation.json` } : {}),
      datasetFingerprint: files.manifest.training.datasetFingerprint,
    };
    const fresh = await this.read();
    fresh.versions.push(entry);
    await this.write(fresh);
    return entry;
  }

  async recordGate(version: string, gate: { passed: boolean; reasons: string[] }): Promise<void> {
    const data = await this.read();
    const entry = data.versions.find((v) => v.version === version);
    if (!entry) throw new RegistryError(`version ${version} is not registered`);
    entry.gate = gate;
    if (!gate.passed && entry.status === 'candidate') entry.status = 'rejected';
    await this.write(data);
  }

  async promote(version: string): Promise<{ from: string | null; to: string }> {
    const data = await this.read();
    const entry = data.versions.find((v) => v.version === version);
    if (!entry) throw new RegistryError(`version ${version} is not registered (see \`leader-cds models list\`)`);
    // Validate before pointing the service at it: a broken model must never become current.
    await readModelDir(resolve(this.root, entry.dir));
    const from = data.current;
    for (const v of data.versions) if (v.version === from && v.version !== version) v.status = 'retired';
    entry.status = 'promoted';
    data.current = version;
    data.history.push({ at: new Date().toISOString(), action: 'promote', from, to: version });
    await this.write(data);
    return { from, to: version };
  }

  /** Serves the version that was current before the last promotion. */
  async rollback(): Promise<{ from: string | null; to: string }> {
    const data = await this.read();
    const from = data.current;
    const last = [...data.history].reverse().find((h) => h.to === from && h.from);
    if (!last?.from) throw new RegistryError('nothing to roll back to');
    const target = data.versions.find((v) => v.version === last.from);
    if (!target) throw new RegistryError(`version ${last.from} is no longer registered`);
    await readModelDir(resolve(this.root, target.dir));
    for (const v of data.versions) if (v.version === from) v.status = 'retired';
    target.status = 'promoted';
    data.current = target.version;
    data.history.push({ at: new Date().toISOString(), action: 'rollback', from, to: target.version });
    await this.write(data);
    return { from, to: target.version };
  }
}
