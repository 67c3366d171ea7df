// Content-addressed artifact store: a stage's output lives under the hash of what produced it (stage, version,
// parameters, input hashes), so re-running a stage with the same inputs finds its output and does nothing.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ArtifactRef {
  stage: string;
  key: string;
  dir: string;
}

/** Stable JSON (sorted keys) so that equal parameters hash equally. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

export function artifactKey(stage: string, version: number, params: unknown, inputs: readonly string[]): string {
  return createHash('sha256').update(stableStringify({ stage, version, params, inputs })).digest('hex').slice(0, 32);
}

const COMPLETE = '.complete.json';

export class ArtifactStore {
  constructor(readonly root: string) {}

  dirFor(stage: string, key: string): string {
    return join(this.root, stage, key);
  }

  /** The committed output of a stage run, if one exists. */
  async find<T>(stage: string, key: string): Promise<{ ref: ArtifactRef; output: T } | undefined> {
    const dir = this.dirFor(stage, key);
    try {
      const output = JSON.parse(await readFile(join(dir, COMPLETE), 'utf8')) as { output: T };
      return { ref: { stage, key, dir }, output: output.output };
    } catch {
      return undefined;
    }
  }

  /**
   * Runs `produce` in a private temporary folder and renames it into place when it returns, so that a crash never
   * leaves a half-written artifact where a later run would take it for finished.
   */
  async commit<T>(stage: string, key: string, produce: (dir: string) => Promise<T>): Promise<{ ref: ArtifactRef; output: T }> {
    const existing = await this.find<T>(stage, key);
    if (existing) return existing;
    const finalDir = this.dirFor(stage, key);
    const tmpDir = join(this.root, stage, `.tmp-${key}-${randomUUID().slice(0, 8)}`);
    await mkdir(tmpDir, { recursive: true });
    try {
      const output = await produce(tmpDir);
      await writeFile(join(tmpDir, COMPLETE), JSON.stringify({ stage, key, createdAt: new Date().toISOString(), output }, null, 2));
      try {
        await rename(tmpDir, finalDir);
      } catch (err) {
        // Another worker finished the same stage first: theirs is as good as ours.
        if (await stat(join(finalDir, COMPLETE)).then(() => true, () => false)) {
          await rm(tmpDir, { recursive: true, force: true });
        } else throw err;
      }
      return (await this.find<T>(stage, key))!;
    } catch (err) {
      await rm(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }
}
