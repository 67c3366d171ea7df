import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { trainBpe } from '../../src/teacher/bpe-trainer.ts';
import { Decoder, padBatch } from '../../src/teacher/decoder.ts';
import { buildExamples, datasetLabels } from '../../src/teacher/examples.ts';
import { DEFAULT_LORA } from '../../src/teacher/lora.ts';
import { DEFAULT_TEMPLATE, renderPrompt } from '../../src/teacher/prompt.ts';
import { tokenizerFromJson } from '../../src/teacher/tokenizer.ts';
import { bceWithLogits, finetuneClassifier, pretrainLm, TrainingError, type ClassificationExample, type TrainOptions } from '../../src/teacher/train.ts';
import { teacherDataset } from './fixtures.ts';
import { assertClose, backend, tinyConfig } from './helpers.ts';

before(backend);

const ds = teacherDataset(30, 5);
const template = { ...DEFAULT_TEMPLATE, maxHistory: 1 };
const bpe = trainBpe(
  ds.records.map((r) => renderPrompt(r, ds.names, { template }).text),
  { vocabSize: 420 },
);
const tokenizer = tokenizerFromJson(bpe.tokenizerJson, bpe.tokenizerConfig, 'trained');
const labels = datasetLabels(ds);
const { examples, stats } = buildExamples(ds.records, ds.names, labels, tokenizer, { template, maxTokens: 96 });
const config = tinyConfig({ vocabSize: tokenizer.vocabSize, maxPositions: 96 });

function evalLoss(m: Decoder, ex: ClassificationExample[]): number {
  return tf.tidy(() => {
    const logits = m.classify(padBatch(ex.map((e) => e.ids), tokenizer.padId));
    const target = new Float32Array(ex.length * labels.length);
    ex.forEach((e, i) => target.set(e.target, i * labels.length));
    return bceWithLogits(logits, tf.tensor2d(target, [ex.length, labels.length])).dataSync()[0]!;
  });
}

const base: Omit<TrainOptions, 'steps'> = { batchSize: 8, learningRate: 3e-3, padId: tokenizer.padId, seed: 3 };

describe('teacher training', () => {
  test('the examples: prompts within the budget, multi-hot targets over the label space', () => {
    assert.equal(stats.examples, ds.records.length);
    assert.ok(stats.maxTokens <= 96);
    assert.ok(examples.every((e) => e.ids[e.ids.length - 1] === tokenizer.eosId));
    assert.ok(examples.every((e, i) => e.target.reduce((a, b) => a + b, 0) === ds.records[i]!.labels.length));
  });

  test('from scratch: causal-LM pre-training lowers the LM loss, then fine-tuning lowers the BCE', () => {
    const m = Decoder.random(config, 1);
    const pre = pretrainLm(m, examples, { ...base, steps: 12 });
    const firstLm = pre.losses.slice(0, 2).reduce((a, b) => a + b) / 2;
    const lastLm = pre.losses.slice(-2).reduce((a, b) => a + b) / 2;
    assert.ok(lastLm < firstLm - 0.5, `LM loss ${firstLm.toFixed(3)} -> ${lastLm.toFixed(3)}`);
    m.attachHead(labels.length, 2);
    const before = evalLoss(m, examples.slice(0, 24));
    const ft = finetuneClassifier(m, examples, { ...base, steps: 25 });
    const after = evalLoss(m, examples.slice(0, 24));
    assert.equal(ft.losses.length, 25);
    assert.ok(after < before * 0.75, `BCE ${before.toFixed(4)} -> ${after.toFixed(4)}`);
    m.dispose();
  });

  test('LoRA fine-tuning with gradient accumulation moves adapters and head, never the frozen base', () => {
    const m = Decoder.random(config, 4);
    m.attachHead(labels.length, 5);
    m.attachLora(DEFAULT_LORA, 6);
    const baseBefore = m.baseTensors();
    const before = evalLoss(m, examples.slice(0, 24));
    const tensorsBefore = tf.memory().numTensors;
    finetuneClassifier(m, examples, { ...base, batchSize: 4, accumulation: 2, learningRate: 5e-3, steps: 12 });
    assert.equal(tf.memory().numTensors, tensorsBefore, 'training must not leak tensors');
    const after = evalLoss(m, examples.slice(0, 24));
    assert.ok(after < before, `BCE ${before} -> ${after}`);
    const baseAfter = m.baseTensors();
    for (const name of Object.keys(baseBefore)) assertClose(baseAfter[name]!.data, baseBefore[name]!.data, 0, name);
    const adapters = m.adapterTensors();
    assert.ok(Object.entries(adapters).some(([n, t]) => n.includes('lora_B') && t.data.some((v) => v !== 0)), 'lora_B must have moved from zero');
    m.dispose();
  });

  test('a NaN loss stops training with a clear error', () => {
    const m = Decoder.random(config, 7);
    m.attachHead(labels.length, 8);
    const poisoned = examples.map((e) => ({ ...e, target: e.target.map(() => Number.NaN) }));
    assert.throws(
      () => finetuneClassifier(m, poisoned, { ...base, steps: 3 }),
      (e: unknown) => e instanceof TrainingError && /finetune: the loss became NaN at step 1 \(micro-batch 1, learning rate/.test(e.message),
    );
    m.dispose();
  });

  test('a run resumed from its checkpoint continues identically', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'resume-'));
    const opts = { ...base, batchSize: 4, accumulation: 2, steps: 4, learningRate: 5e-3 };
    const fresh = () => {
      const m = Decoder.random(config, 9);
      m.attachHead(labels.length, 10);
      m.attachLora(DEFAULT_LORA, 11);
      return m;
    };
    const straight = fresh();
    const full = finetuneClassifier(straight, examples, opts);

    const statePath = path.join(dir, 'train-state.safetensors');
    const interrupted = fresh();
    assert.throws(
      () =>
        finetuneClassifier(interrupted, examples, {
          ...opts,
          statePath,
          checkpointEvery: 2,
          onStep: (s) => {
            if (s.step === 2) throw new Error('stopped');
          },
        }),
      /stopped/,
    );
    interrupted.dispose();
    assert.ok(existsSync(statePath));
    const resumed = fresh();
    const rest = finetuneClassifier(resumed, examples, { ...opts, statePath, resume: true, checkpointEvery: 2 });
    assert.equal(rest.resumedFrom, 2);
    assertClose(rest.losses, full.losses.slice(2), 1e-6, 'losses after resuming');
    const a = straight.adapterTensors();
    const b = resumed.adapterTensors();
    for (const n of Object.keys(a)) assertClose(b[n]!.data, a[n]!.data, 1e-6, n);
    assertClose(resumed.headTensor().data, straight.headTensor().data, 1e-6, 'head');

    const other = fresh();
    assert.throws(() => finetuneClassifier(other, examples, { ...opts, learningRate: 1e-3, statePath, resume: true }), /saved by a run with other settings/);
    for (const m of [straight, resumed, other]) m.dispose();
  });
});
