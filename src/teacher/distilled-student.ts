// LEADER(S) distilled from a teacher fitted on the same fold's training records (FoldTeachers), for the
// evaluation harness: fit = teacher (shared per fold) -> its features of the training records -> the
// student trained with alpha * MSE + beta * alignment. The test part never reaches the teacher.
import { rm } from 'node:fs/promises';
import type { DatasetRecord } from '../dataset/types.ts';
import type { FitContext, FitReport, Recommender, StudentMethodOptions, StudentRecommenderModule } from '../eval/method.ts';
import { writeTeacherFeatures } from '../model/student/teacher-features.ts';
import type { FoldTeachers } from './fold-teachers.ts';

export interface FoldDistilledOptions {
  /** Student options; `teacherStates` is set here, to this method's own features folder. */
  student: Omit<StudentMethodOptions, 'teacherStates'> & { alpha: number };
  studentModule: StudentRecommenderModule;
  teachers: FoldTeachers;
}

export class FoldDistilledStudent implements Recommender {
  readonly name: string;
  readonly threshold: number;

  private constructor(
    private readonly student: Recommender,
    private readonly featuresDir: string,
    private readonly teachers: FoldTeachers,
  ) {
    this.name = student.name;
    this.threshold = student.threshold;
  }

  static async create(o: FoldDistilledOptions): Promise<FoldDistilledStudent> {
    if (!(o.student.alpha > 0)) throw new Error(`${o.student.name}: a per-fold teacher is only needed when alpha > 0`);
    // The harness reads the threshold before fit, so the student exists from the start; its features
    // folder is written in fit, before the student reads it.
    const featuresDir = o.teachers.newPath('features');
    const student = await o.studentModule.createStudentRecommender({ ...o.student, teacherStates: featuresDir });
    return new FoldDistilledStudent(student, featuresDir, o.teachers);
  }

  async fit(train: readonly DatasetRecord[], validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const t0 = performance.now();
    const teacher = await this.teachers.teacherFor(train, ctx);
    const features = await this.teachers.featuresFor(teacher, train);
    await writeTeacherFeatures(this.featuresDir, features);
    ctx.onProgress?.({ type: 'message', text: `${this.name}: teacher features of ${features.rows.length} training records (dim ${features.dim}) from the fold's own teacher` });
    const report = await this.student.fit(train, validation, ctx);
    return { ...report, seconds: (performance.now() - t0) / 1000 };
  }

  predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    return this.student.predict(records);
  }

  async close(): Promise<void> {
    await this.student.close?.();
    await rm(this.featuresDir, { recursive: true, force: true });
  }
}
