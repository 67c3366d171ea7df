// The model directory's manifest.json: everything the runtime needs besides model.onnx, validated with zod.
import { z } from 'zod';
import { LabelEntry } from '../../mapping/schema.ts';
import { StudentConfig } from '../student/config.ts';
import { Vocabularies } from '../student/vocab.ts';

export const MANIFEST_FILE = 'manifest.json';
export const ONNX_FILE = 'model.onnx';
export const MANIFEST_FORMAT = 'leader-cds-model';
export const MANIFEST_VERSION = 1;
export const DEFAULT_THRESHOLD = 0.3;

const TensorSpec = z.object({ name: z.string().min(1), type: z.enum(['int64', 'float32']), shape: z.array(z.union([z.number().int(), z.string()])) }).strict();

const Metrics = z
  .object({
    prAuc: z.number().optional(),
    jaccard: z.number().optional(),
    f1: z.number().optional(),
    avgMedications: z.number().optional(),
    samples: z.number().int().nonnegative(),
  })
  .strict();

export const ModelManifest = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    formatVersion: z.literal(MANIFEST_VERSION),
    modelVersion: z.string().min(1),
    createdAt: z.string().datetime({ offset: true }),
    method: z.literal('leader-s'),
    config: StudentConfig,
    vocabularies: Vocabularies,
    /** label -> name and orderable, from the mapping's label catalog when training had one. */
    labelCatalog: z.record(z.string(), LabelEntry),
    labelSpace: z.string().optional(),
    mapping: z.string().optional(),
    thresholds: z
      .object({
        default: z.number().min(0).max(1),
        perLabel: z.record(z.string(), z.number().min(0).max(1)).default({}),
      })
      .strict(),
    metrics: z.object({ validation: Metrics.optional(), test: Metrics.optional() }).strict(),
    training: z
      .object({
        datasetFingerprint: z.string().min(1),
        records: z.number().int().nonnegative(),
        patients: z.number().int().nonnegative(),
        seed: z.number().int(),
        alpha: z.number().nonnegative(),
        beta: z.number().nonnegative(),
        epochs: z.number().int().nonnegative(),
        bestEpoch: z.number().int().optional(),
        batchSize: z.number().int().positive(),
        learningRate: z.number().positive(),
        backend: z.string().optional(),
        samplesPerSecond: z.number().optional(),
        teacherFeatures: z.string().optional(),
        curve: z.array(z.object({ epoch: z.number().int(), trainLoss: z.number(), validPrAuc: z.number().optional() }).strict()).default([]),
      })
      .strict(),
    onnx: z
      .object({
        file: z.literal(ONNX_FILE),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
        opset: z.number().int(),
        inputs: z.array(TensorSpec),
        outputs: z.array(TensorSpec),
      })
      .strict(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const labels = new Set(m.vocabularies.labels);
    if (labels.size !== m.vocabularies.labels.length) ctx.addIssue({ code: 'custom', path: ['vocabularies', 'labels'], message: 'labels repeat' });
    for (const l of Object.keys(m.labelCatalog))
      if (!labels.has(l)) ctx.addIssue({ code: 'custom', path: ['labelCatalog', l], message: `label ${l} is not in vocabularies.labels` });
    for (const l of Object.keys(m.thresholds.perLabel))
      if (!labels.has(l)) ctx.addIssue({ code: 'custom', path: ['thresholds', 'perLabel', l], message: `label ${l} is not in vocabularies.labels` });
    const probs = m.onnx.outputs.find((o) => o.name === 'probabilities');
    if (!probs) ctx.addIssue({ code: 'custom', path: ['onnx', 'outputs'], message: 'no probabilities output' });
    else if (probs.shape[1] !== m.vocabularies.labels.length)
      ctx.addIssue({ code: 'custom', path: ['onnx', 'outputs'], message: `probabilities has ${probs.shape[1]} labels, vocabularies.labels ${m.vocabularies.labels.length}` });
  });
export type ModelManifest = z.infer<typeof ModelManifest>;
export type ModelMetrics = z.infer<typeof Metrics>;
export type TensorSpec = z.infer<typeof TensorSpec>;
