// Per-fold teachers: the teacher behind leader-t and the distilled students is fitted on each fold's
// training patients only (a recorder around the one place a teacher sees records), once per fold.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import type { StudentMethodOptions } from '../../src/eval/method.ts';
import { evaluate, protocolSamples } from '../../src/eval/harness.ts';
import { ABLATION_METHODS, methodFactory, methodNotes, MethodUnavailableError, usesFoldTeacher } from '../../src/eval/registry.ts';
import { kFoldByPatient } from '../../src/eval/splits.ts';
import { StudentRecommender } from '../../src/model/student/recommender.ts';
import { FoldDistilledStudent } from '../../src/teacher/distilled-student.ts';
import { FoldTeachers } from '../../src/teacher/fold-teachers.ts';
import type { TeacherTrainOptions, TeacherTrainResult } from '../../src/teacher/pipeline.ts';
import { DEFAULT_TEMPLATE } from '../../src/teacher/prompt.ts';
import { TeacherRecommender } from '../../src/teacher/recommender.ts';
import { tinyConfig } from '../model/helpers.ts';
import { teacherDataset } from '../teacher/fixtures.ts';
import { backend } from '../teacher/helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Real teachers; remembers what each one was trained on. */
class RecordingTeachers extends FoldTeachers {
  readonly seen: Array<readonly DatasetRecord[]> = [];
  protected override train(options: TeacherTrainOptions): TeacherTrainResult {
    this.seen.push(options.dataset.records);
    return super.train(options);
  }
}

const tinyTeacher = {
  template: { ...DEFAULT_TEMPLATE, maxHistory: 1 },
  maxTokens: 96,
  scratch: { tokenizerVocab: 400, model: { hiddenSize: 32, numLayers: 1, maxPositions: 96 }, pretrainSteps: 2 },
  steps: 6,
  batchSize: 8,
  accumulation: 1,
  learningRate: 3e-3,
};

const tinyStudent = {
  createStudentRecommender: (o: StudentMethodOptions) => new StudentRecommender({ ...o, epochs: 2, backend: 'wasm', config: tinyConfig, batchSize: 16 }),
};

before(backend);

describe('per-fold teachers', () => {
  test('leader-t, leader-s and leader-s-features share one teacher per fold, fitted on that fold\'s training patients only', async () => {
    const ds = teacherDataset(36, 5);
    const teachers = new RecordingTeachers({ names: ds.names, settings: tinyTeacher, backend: 'wasm' });
    const distilled = (name: string, alpha: number, beta: number) => ({
      name,
      create: () => FoldDistilledStudent.create({ student: { name, alpha, beta }, studentModule: tinyStudent, teachers }),
    });
    const seed = 3;
    const folds = 3;
    try {
      const report = await evaluate({
        dataset: ds,
        methods: [{ name: 'leader-t', create: () => new TeacherRecommender({ teachers }) }, distilled('leader-s', 0.4, 0.005), distilled('leader-s-features', 0.4, 0)],
        split: { kind: 'k-fold', folds, validationFraction: 0 },
        protocol: 'all',
        rounds: 1,
        seed,
      });
      assert.deepEqual(report.methods.map((m) => m.name), ['leader-t', 'leader-s', 'leader-s-features']);
      for (const m of report.methods) assert.ok(m.summary.overall.prAuc !== null && m.summary.overall.prAuc.mean > 0, `${m.name} has a PR-AUC`);

      // One teacher per fold, not one per method.
      assert.equal(teachers.seen.length, folds);
      const parts = kFoldByPatient(protocolSamples(ds.records, 'all'), folds, seed);
      const allPatients = new Set(ds.records.map((r) => r.patientId));
      parts.forEach((part, i) => {
        const seen = new Set(teachers.seen[i]!.map((r) => r.patientId));
        const testPatients = new Set(part.test.map((r) => r.patientId));
        assert.ok(testPatients.size > 0);
        for (const p of seen) assert.ok(!testPatients.has(p), `fold ${i}: the teacher saw test patient ${p}`);
        assert.deepEqual([...seen].sort(), [...new Set(part.train.map((r) => r.patientId))].sort(), `fold ${i}: exactly the training patients`);
        assert.equal(seen.size + testPatients.size, allPatients.size);
      });
    } finally {
      teachers.dispose();
    }
  });

  test('registry: the ablation names, which methods fit a teacher, and the report notes', async () => {
    const fixture = path.join(here, 'fixtures/student-module.ts');
    assert.deepEqual([...ABLATION_METHODS], ['leader-s-nodistill', 'leader-s-align', 'leader-s-features', 'leader-s', 'leader-t']);
    assert.deepEqual(ABLATION_METHODS.filter((m) => usesFoldTeacher(m)), ['leader-s-features', 'leader-s', 'leader-t']);
    assert.deepEqual(ABLATION_METHODS.filter((m) => usesFoldTeacher(m, { student: { teacherStates: 'f' } })), ['leader-t']);

    // Teacher-fitting methods need a pool; the error says so before anything is trained.
    for (const name of ['leader-t', 'leader-s', 'leader-s-features']) {
      await assert.rejects(methodFactory(name, { studentModule: fixture }), (err: unknown) => err instanceof MethodUnavailableError && /fits a teacher per fold/.test(err.message));
    }
    const { built } = (await import('./fixtures/student-module.ts')) as typeof import('./fixtures/student-module.ts');
    await (await methodFactory('leader-s-align', { studentModule: fixture }))();
    assert.deepEqual(built.at(-1), { name: 'leader-s-align', alpha: 0, beta: 0.005 });
    await (await methodFactory('leader-s-features', { studentModule: fixture, student: { teacherStates: 'f' } }))();
    assert.deepEqual(built.at(-1), { name: 'leader-s-features', teacherStates: 'f', alpha: 0.4, beta: 0 });

    const outside = methodNotes(['leader-s', 'leader-s-features', 'logreg'], { student: { teacherStates: '/x/features' } });
    assert.equal(outside.length, 1);
    assert.match(outside[0]!, /^leader-s, leader-s-features: teacher fitted outside the fold \(features from \/x\/features\)/);
    const inside = methodNotes([...ABLATION_METHODS]);
    assert.deepEqual(inside, ['leader-s-features, leader-s, leader-t: a teacher fitted per fold on that fold\'s training patients only, shared by these methods.']);
    assert.deepEqual(methodNotes(['logreg', 'leader-s-nodistill']), []);
  });
});
