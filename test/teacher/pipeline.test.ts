import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { loadTeacher, runTeacher } from '../../src/teacher/artifact.ts';
import { trainTeacher, type TeacherTrainOptions } from '../../src/teacher/pipeline.ts';
import { DEFAULT_TEMPLATE } from '../../src/teacher/prompt.ts';
import { teacherDataset } from './fixtures.ts';
import { assertClose, backend } from './helpers.ts';

before(backend);

const ds = teacherDataset(12, 21);

function options(out: string, extra: Partial<TeacherTrainOptions> = {}): TeacherTrainOptions {
  return {
    dataset: ds,
    datasetFile: 'fixture.jsonl',
    out,
    scratch: { tokenizerVocab: 320, model: { hiddenSize: 32, numLayers: 1, maxPositions: 128 }, pretrainSteps: 3, pretrainLearningRate: 1e-3 },
    template: { ...DEFAULT_TEMPLATE, maxHistory: 1 },
    maxTokens: 128,
    finetune: 'lora',
    steps: 4,
    batchSize: 4,
    accumulation: 1,
    learningRate: 5e-3,
    warmupSteps: 0,
    seed: 5,
    resume: false,
    checkpointEvery: 1,
    ...extra,
  };
}

describe('teacher train pipeline', () => {
  test('an interrupted run resumed with --resume ends with the same teacher as an uninterrupted one', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'pipeline-'));
    const straight = trainTeacher(options(path.join(root, 'a')));
    assert.equal(straight.manifest.finetune, 'lora');
    assert.deepEqual(readdirSync(path.join(root, 'a')).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'model', 'teacher.json']);

    const out = path.join(root, 'b');
    assert.throws(
      () =>
        trainTeacher(
          options(out, {
            onStep: (phase, s) => {
              if (phase === 'finetune' && s.step === 2) throw new Error('power cut');
            },
          }),
        ),
      /power cut/,
    );
    assert.ok(!existsSync(path.join(out, 'teacher.json')), 'no manifest: the teacher is not complete');
    assert.ok(existsSync(path.join(out, 'finetune-state.safetensors')));
    const resumed = trainTeacher(options(out, { resume: true }));
    assert.equal(resumed.finetune.resumedFrom, 2);
    assert.ok(!existsSync(path.join(out, 'finetune-state.safetensors')), 'the resume state goes once the teacher is complete');

    const a = loadTeacher(path.join(root, 'a'));
    const b = loadTeacher(out);
    const pa = runTeacher(a, ds.records.slice(0, 6), ds.names, { pooled: true });
    const pb = runTeacher(b, ds.records.slice(0, 6), ds.names, { pooled: true });
    assertClose(pb.probabilities, pa.probabilities, 1e-5, 'probabilities');
    assertClose(pb.pooled!, pa.pooled!, 1e-5, 'pooled states');
    a.decoder.dispose();
    b.decoder.dispose();
  });
});
