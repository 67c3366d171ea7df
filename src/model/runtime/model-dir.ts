// Writes and reads a model directory: model.onnx + manifest.json. Writes go to a temp directory that is
// renamed into place when complete, so a reader never sees half a model.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from './errors.ts';
import { MANIFEST_FILE, ModelManifest, ONNX_FILE } from './manifest.ts';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function writeModelDir(dir: string, manifest: ModelManifest, onnxBytes: Uint8Array): Promise<void> {
  const checked = ModelManifest.parse({ ...manifest, onnx: { ...manifest.onnx, sha256: sha256(onnxBytes) } });
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    await writeFile(path.join(tmp, ONNX_FILE), onnxBytes);
    await writeFile(path.join(tmp, MANIFEST_FILE), JSON.stringify(checked, null, 2) + '\n');
    const old = `${target}.old-${process.pid}-${Date.now()}`;
    let moved = false;
    try {
      await rename(target, old);
      moved = true;
    } catch {
      // no previous model
    }
    await rename(tmp, target);
    if (moved) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface ModelFiles {
  dir: string;
  manifest: ModelManifest;
  onnx: Uint8Array;
}

/** Reads and validates a model directory (manifest schema and the ONNX file's sha256). */
export async function readModelDir(dir: string): Promise<ModelFiles> {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  let raw: string;
  try {
    raw = await readFile(manifestPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelLoadError(
      code === 'ENOENT' ? `model directory ${dir} has no ${MANIFEST_FILE}` : `cannot read ${manifestPath}: ${(err as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ModelLoadError(`${manifestPath} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ModelManifest.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ModelLoadError(`${manifestPath} is not a valid model manifest: ${issues.join('; ')}`);
  }
  const onnxPath = path.join(dir, ONNX_FILE);
  let onnx: Uint8Array;
  try {
    onnx = await readFile(onnxPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelLoadError(code === 'ENOENT' ? `model directory ${dir} has no ${ONNX_FILE}` : `cannot read ${onnxPath}: ${(err as Error).message}`);
  }
  const digest = sha256(onnx);
  if (digest !== parsed.data.onnx.sha256)
    throw new ModelLoadError(
      `${onnxPath} does not match its manifest (sha256 ${digest.slice(0, 12)}…, manifest ${parsed.data.onnx.sha256.slice(0, 12)}…; ${onnx.length} bytes): truncated, replaced or from another model`,
    );
  return { dir, manifest: parsed.data, onnx };
}
