// LEADER(T) as a Recommender (src/eval/method.ts), so the evaluation harness can score the teacher
// like any other method: fit = `teacher train` on the fold's training records (shared with the fold's
// distilled students through FoldTeachers), predict = the exported teacher on onnxruntime.
import type { DatasetRecord } from '../dataset/types.ts';
import type { FitContext, FitReport, Recommender } from '../eval/method.ts';
import { FoldTeachers, type FittedTeacher, type TeacherSettings } from './fold-teachers.ts';
import { OnnxTeacher } from './onnx-runner.ts';

export interface TeacherMethodOptions {
  name?: string;
  /** Display names (the dataset file's `names`): the prompts need them. Ignored when `teachers` is given. */
  names?: Readonly<Record<string, string>>;
  /** Where fitted teachers go; default a temporary folder removed by close(). Ignored when `teachers` is given. */
  workDir?: string;
  /** Training settings; the defaults are `teacher train`'s. Ignored when `teachers` is given. */
  train?: TeacherSettings;
  /** Per-fold teachers shared with other methods (the owner disposes them). */
  teachers?: FoldTeachers;
}

/** The paper's teacher threshold. */
export const TEACHER_THRESHOLD = 0.5;

export class TeacherRecommender implements Recommender {
  readonly name: string;
  readonly threshold = TEACHER_THRESHOLD;
  private fitted: FittedTeacher | undefined;
  private runtime: OnnxTeacher | undefined;
  private labels: readonly string[] = [];
  private readonly teachers: FoldTeachers;
  private readonly ownsTeachers: boolean;

  constructor(options: TeacherMethodOptions) {
    this.name = options.name ?? 'leader-t';
    this.ownsTeachers = !options.teachers;
    if (options.teachers) this.teachers = options.teachers;
    else {
      if (!options.names) throw new Error(`${this.name}: display names are needed for the prompts`);
      this.teachers = new FoldTeachers({ names: options.names, ...(options.train ? { settings: options.train } : {}), ...(options.workDir ? { workDir: options.workDir } : {}) });
    }
  }

  async fit(train: readonly DatasetRecord[], _validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const t0 = performance.now();
    this.labels = ctx.labels;
    const fitted = await this.teachers.teacherFor(train, ctx);
    await this.runtime?.close();
    this.runtime = await OnnxTeacher.create(fitted.onnx, fitted.dims);
    this.fitted = fitted;
    return { curve: fitted.curve, seconds: (performance.now() - t0) / 1000 };
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    if (!this.fitted || !this.runtime) throw new Error(`${this.name}: predict before fit`);
    const own = this.fitted.teacher.manifest.labels;
    const L = own.length;
    const index = this.labels.map((l) => own.indexOf(l));
    const { probabilities } = await this.runtime.runRecords(this.fitted.teacher, records, this.teachers.names());
    return records.map((_, i) => Float32Array.from(index, (j) => (j >= 0 ? probabilities[i * L + j]! : 0)));
  }

  async close(): Promise<void> {
    await this.runtime?.close();
    this.runtime = undefined;
    if (this.ownsTeachers) this.teachers.dispose();
  }
}

export function createTeacherRecommender(options: TeacherMethodOptions): TeacherRecommender {
  return new TeacherRecommender(options);
}
