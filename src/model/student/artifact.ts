// Turns a trained student into model-directory files: ONNX graph + manifest (src/model/runtime/manifest.ts).
import type { LabelEntry } from '../../mapping/schema.ts';
import type { LoadedMapping } from '../../mapping/types.ts';
import { exportStudentOnnx, inputSpecs } from '../onnx/export.ts';
import { OPSET } from '../onnx/graph-builder.ts';
import { DEFAULT_THRESHOLD, MANIFEST_FORMAT, MANIFEST_VERSION, ModelManifest, ONNX_FILE, type ModelMetrics } from '../runtime/manifest.ts';
import { sha256, writeModelDir, type ModelFiles } from '../runtime/model-dir.ts';
import type { StudentConfig } from './config.ts';
import type { Vocabularies } from './vocab.ts';
import type { WeightMap } from './weights.ts';

export interface ArtifactMeta {
  modelVersion?: string;
  createdAt?: string;
  mapping?: Pick<LoadedMapping, 'name' | 'labelSpace' | 'labelEntry'>;
  threshold?: number;
  metrics?: { validation?: ModelMetrics; test?: ModelMetrics };
  training: ModelManifest['training'];
}

export interface StudentArtifact {
  config: StudentConfig;
  vocab: Vocabularies;
  weights: WeightMap;
}

export function buildModelFiles(student: StudentArtifact, meta: ArtifactMeta, dir = '(in memory)'): ModelFiles {
  const { config, vocab } = student;
  const onnx = exportStudentOnnx(student.weights, { config, labels: vocab.labels.length, profileFields: vocab.profile.length });
  const createdAt = meta.createdAt ?? new Date().toISOString();
  const labelCatalog: Record<string, LabelEntry> = {};
  if (meta.mapping)
    for (const label of vocab.labels) {
      const entry = meta.mapping.labelEntry(label);
      if (entry) labelCatalog[label] = entry;
    }
  const digest = sha256(onnx);
  const manifest = ModelManifest.parse({
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    modelVersion: meta.modelVersion ?? `leader-s-${createdAt.slice(0, 10).replaceAll('-', '')}-${digest.slice(0, 8)}`,
    createdAt,
    method: 'leader-s',
    config,
    vocabularies: vocab,
    labelCatalog,
    ...(meta.mapping ? { labelSpace: meta.mapping.labelSpace, mapping: meta.mapping.name } : {}),
    thresholds: { default: meta.threshold ?? DEFAULT_THRESHOLD, perLabel: {} },
    metrics: meta.metrics ?? {},
    training: meta.training,
    onnx: {
      file: ONNX_FILE,
      sha256: digest,
      opset: OPSET,
      inputs: inputSpecs(vocab.profile.length),
      outputs: [
        { name: 'probabilities', type: 'float32', shape: ['batch', vocab.labels.length] },
        { name: 'feature', type: 'float32', shape: ['batch', config.hidden] },
      ],
    },
  });
  return { dir, manifest, onnx };
}

export async function saveModel(dir: string, files: ModelFiles): Promise<void> {
  await writeModelDir(dir, files.manifest, files.onnx);
}
