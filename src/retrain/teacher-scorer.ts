// A trained teacher folder on onnxruntime, without tfjs: its manifest, its tokenizer and the `teacher.onnx` the
// teacher stage exported. Teacher features and the teacher's evaluation both score records through this.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { DatasetRecord } from '../dataset/types.ts';
import { readManifest, type TeacherManifest } from '../teacher/artifact.ts';
import { parseHfConfig } from '../teacher/config.ts';
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
      try {
        return await runtime.runRecords({ tokenizer, manifest }, records, names, options);
      } catch (err) {
        throw new Error(`teacher ${dir}: ${(err as Error).message}`);
      }
    },
    close: () => runtime.close(),
  };
}
