// A trained teacher folder on onnxruntime, without tfjs: its manifest, its tokenizer and the `teacher.onnx` the
// teacher stage exported. Teacher features and the teacher's evaluation both score records through this.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { DatasetRecord } from '../dataset/types.ts';
import { readManifest, type TeacherManifest } from '../teacher/artifact.ts';
import { parseHfConfig } from '../teacher/config.ts';
import { promptIds } from '../teacher/examples.ts';
import { OnnxTeacher, type OnnxTeacherOutputs } from '../teacher/onnx-runner.ts';
import { loadTokenizer, type TeacherTokenizer } from '../teacher/tokenizer.ts';

export const TEACHER_ONNX = 'teacher.onnx';

export interface TeacherScorer {
  manifest: TeacherManifest;
  hidden: number;
  score(
    records: readonly DatasetRecord[],
    names: Readonly<Record<string, string>>,
    options?: { batchSize?: number; onBatch?: (done: number, total: number) => Promise<void> | void },
  ): Promise<OnnxTeacherOutputs>;
  close(): Promise<void>;
}

export async function openTeacherScorer(dir: string, threads?: number): Promise<TeacherScorer> {
  const manifest = readManifest(dir);
  const baseDir = isAbsolute(manifest.base) ? manifest.base : join(dir, manifest.base);
  const config = parseHfConfig(JSON.parse(readFileSync(join(baseDir, 'config.json'), 'utf8')), join(baseDir, 'config.json'));
  const tokenizer: TeacherTokenizer = loadTokenizer(baseDir, config.eosTokenId);
  const labels = manifest.labels.length;
  const runtime = await OnnxTeacher.create(readFileSync(join(dir, TEACHER_ONNX)), { maxPositions: config.maxPositions, hidden: manifest.hiddenSize, labels }, threads);
  return {
    manifest,
    hidden: manifest.hiddenSize,
    async score(records, names, options = {}) {
      const bs = options.batchSize ?? 32;
      const ids = records.map((r) => promptIds(r, names, tokenizer, { template: manifest.template, maxTokens: manifest.maxTokens }).ids);
      // Batches of similar length keep the padding small; results go back in record order.
      const order = ids.map((_, i) => i).sort((a, b) => ids[a]!.length - ids[b]!.length);
      const features = new Float32Array(records.length * manifest.hiddenSize);
      const probabilities = new Float32Array(records.length * labels);
      for (let s = 0; s < order.length; s += bs) {
        const rows = order.slice(s, s + bs);
        const out = await runtime.run(rows.map((i) => ids[i]!), tokenizer.padId);
        rows.forEach((r, k) => {
          features.set(out.features.subarray(k * manifest.hiddenSize, (k + 1) * manifest.hiddenSize), r * manifest.hiddenSize);
          probabilities.set(out.probabilities.subarray(k * labels, (k + 1) * labels), r * labels);
        });
        await options.onBatch?.(Math.min(order.length, s + bs), order.length);
      }
      const bad = features.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`teacher ${dir}: encounter ${records[Math.floor(bad / manifest.hiddenSize)]!.encounterId} produced a non-finite feature`);
      return { features, probabilities };
    },
    close: () => runtime.close(),
  };
}
