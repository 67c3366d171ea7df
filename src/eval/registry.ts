// Methods by name, so that every comparison is one command: `--methods most-frequent,previous,logreg,leader-s`.
// The student and the teacher are imported dynamically: evaluation (and its tests) work before or without them.
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { MethodFactory, Recommender, StudentMethodOptions, StudentRecommenderModule } from './method.ts';
import type { FoldTeachers, FoldTeachersOptions } from '../teacher/fold-teachers.ts';
import { MostFrequentRecommender } from './baselines/most-frequent.ts';
import { PreviousEncounterRecommender } from './baselines/previous-encounter.ts';
import { LogisticRegressionRecommender } from './baselines/logistic-regression.ts';
import { MlpRecommender } from './baselines/mlp.ts';

export class MethodUnavailableError extends Error {
  constructor(
    readonly method: string,
    message: string,
  ) {
    super(message);
    this.name = 'MethodUnavailableError';
  }
}

export interface MethodRegistryOptions {
  /** Passed to the student methods (teacher states file, epochs). */
  student?: Omit<StudentMethodOptions, 'name' | 'alpha' | 'beta'>;
  /** Where the student module lives; tests point it elsewhere. */
  studentModule?: string;
  /**
   * Per-fold teachers (createFoldTeachers) for leader-t and for leader-s / leader-s-features without a
   * teacher-states file; one pool shared by all methods fits one teacher per fold. The caller disposes it.
   */
  teachers?: FoldTeachers;
  /** `validation`: learned methods (logreg, the students) choose their threshold on the validation split. */
  thresholdFrom?: 'fixed' | 'validation';
}

export const METHOD_NAMES = [
  'most-frequent',
  'previous',
  'logreg',
  'mlp',
  'leader-s',
  'leader-s-nodistill',
  'leader-s-align',
  'leader-s-features',
  'leader-t',
] as const;

/** The distillation ablation, in the order of the paper's table: student alone, + alignment, + features, both, teacher. */
export const ABLATION_METHODS = ['leader-s-nodistill', 'leader-s-align', 'leader-s-features', 'leader-s', 'leader-t'] as const;

/** The paper's MIMIC-III weights (alpha: teacher features, beta: profile alignment). */
const PAPER_ALPHA = 0.4;
const PAPER_BETA = 0.005;

/** Student loss weights of each student variant; alpha > 0 needs teacher features. */
const STUDENT_WEIGHTS: Record<string, { alpha: number; beta: number } | undefined> = {
  'leader-s-nodistill': { alpha: 0, beta: 0 },
  'leader-s-align': { alpha: 0, beta: PAPER_BETA },
  'leader-s-features': { alpha: PAPER_ALPHA, beta: 0 },
  'leader-s': { alpha: PAPER_ALPHA, beta: PAPER_BETA },
};

/** Methods that fit a teacher per fold, given these options. */
export function usesFoldTeacher(name: string, options: Pick<MethodRegistryOptions, 'student'> = {}): boolean {
  if (name === 'leader-t') return true;
  const w = STUDENT_WEIGHTS[name];
  return w !== undefined && w.alpha > 0 && !options.student?.teacherStates;
}

/** The per-fold teacher pool; imported on demand (it loads tfjs and onnxruntime). */
export async function createFoldTeachers(options: FoldTeachersOptions): Promise<FoldTeachers> {
  const { FoldTeachers } = await import('../teacher/fold-teachers.ts');
  return new FoldTeachers(options);
}

/** What the report must say about how the named methods got their teacher. */
export function methodNotes(names: readonly string[], options: Pick<MethodRegistryOptions, 'student'> = {}): string[] {
  const notes: string[] = [];
  const distilling = names.filter((n) => (STUDENT_WEIGHTS[n]?.alpha ?? 0) > 0);
  const states = options.student?.teacherStates;
  if (states && distilling.length) {
    notes.push(
      `${distilling.join(', ')}: teacher fitted outside the fold (features from ${states}); if that teacher saw this data's test patients, these figures are optimistic.`,
    );
  }
  const perFold = names.filter((n) => usesFoldTeacher(n, options));
  if (perFold.length) notes.push(`${perFold.join(', ')}: a teacher fitted per fold on that fold's training patients only, shared by these methods.`);
  return notes;
}

const defaultStudentModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../model/student/recommender.ts');

async function loadStudent(method: string, modulePath: string): Promise<StudentRecommenderModule> {
  if (!existsSync(modulePath)) {
    throw new MethodUnavailableError(method, `method ${method} is not available: ${modulePath} does not exist (the LEADER student has not landed in this checkout)`);
  }
  let mod: unknown;
  try {
    mod = await import(pathToFileURL(modulePath).href);
  } catch (err) {
    throw new MethodUnavailableError(method, `method ${method} is not available: loading ${modulePath} failed: ${(err as Error).message}`);
  }
  const create = (mod as Partial<StudentRecommenderModule>).createStudentRecommender;
  if (typeof create !== 'function') {
    throw new MethodUnavailableError(method, `method ${method} is not available: ${modulePath} does not export createStudentRecommender(options)`);
  }
  return { createStudentRecommender: create };
}

function needTeachers(method: string, options: MethodRegistryOptions): FoldTeachers {
  if (!options.teachers) {
    throw new MethodUnavailableError(method, `method ${method} fits a teacher per fold: pass a teacher pool (createFoldTeachers) in the registry options`);
  }
  return options.teachers;
}

/** A factory for a named method; unknown or unavailable methods fail here, before any training starts. */
export async function methodFactory(name: string, options: MethodRegistryOptions = {}): Promise<MethodFactory> {
  switch (name) {
    case 'most-frequent':
      return () => new MostFrequentRecommender();
    case 'previous':
      return () => new PreviousEncounterRecommender();
    case 'logreg':
      return () => new LogisticRegressionRecommender(options.thresholdFrom ? { thresholdFrom: options.thresholdFrom } : {});
    case 'mlp':
      return () => new MlpRecommender(options.thresholdFrom ? { thresholdFrom: options.thresholdFrom } : {});
    case 'leader-s':
    case 'leader-s-nodistill':
    case 'leader-s-align':
    case 'leader-s-features': {
      const student = await loadStudent(name, options.studentModule ?? defaultStudentModule);
      const weights = STUDENT_WEIGHTS[name] as { alpha: number; beta: number };
      // leader-s with a features file keeps the student's own weights (alpha 0.4 with features), as before.
      const explicit = name === 'leader-s' ? {} : weights;
      if (!usesFoldTeacher(name, options)) {
        const opts: StudentMethodOptions = { ...options.student, name, ...explicit };
        return async (): Promise<Recommender> => student.createStudentRecommender(opts);
      }
      const teachers = needTeachers(name, options);
      const { FoldDistilledStudent } = await import('../teacher/distilled-student.ts');
      const { teacherStates: _, ...rest } = options.student ?? {};
      return async (): Promise<Recommender> =>
        FoldDistilledStudent.create({ student: { ...rest, name, ...weights }, studentModule: student, teachers });
    }
    case 'leader-t': {
      const teachers = needTeachers(name, options);
      const { TeacherRecommender } = await import('../teacher/recommender.ts');
      return () => new TeacherRecommender({ name, teachers });
    }
    default:
      throw new MethodUnavailableError(name, `unknown method ${JSON.stringify(name)}; known methods: ${METHOD_NAMES.join(', ')}`);
  }
}
