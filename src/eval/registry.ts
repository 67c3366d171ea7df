// Methods by name, so that every comparison is one command: `--methods most-frequent,previous,logreg,leader-s`.
// The student is imported dynamically: evaluation (and its tests) work before or without it.
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { MethodFactory, Recommender, StudentMethodOptions, StudentRecommenderModule } from './method.ts';
import { MostFrequentRecommender } from './baselines/most-frequent.ts';
import { PreviousEncounterRecommender } from './baselines/previous-encounter.ts';
import { LogisticRegressionRecommender } from './baselines/logistic-regression.ts';

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
}

export const METHOD_NAMES = ['most-frequent', 'previous', 'logreg', 'leader-s', 'leader-s-nodistill'] as const;

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

/** A factory for a named method; unknown or unavailable methods fail here, before any training starts. */
export async function methodFactory(name: string, options: MethodRegistryOptions = {}): Promise<MethodFactory> {
  switch (name) {
    case 'most-frequent':
      return () => new MostFrequentRecommender();
    case 'previous':
      return () => new PreviousEncounterRecommender();
    case 'logreg':
      return () => new LogisticRegressionRecommender();
    case 'leader-s':
    case 'leader-s-nodistill': {
      const student = await loadStudent(name, options.studentModule ?? defaultStudentModule);
      const opts: StudentMethodOptions = { ...options.student, name, ...(name === 'leader-s-nodistill' ? { alpha: 0, beta: 0 } : {}) };
      return async (): Promise<Recommender> => student.createStudentRecommender(opts);
    }
    default:
      throw new MethodUnavailableError(name, `unknown method ${JSON.stringify(name)}; known methods: ${METHOD_NAMES.join(', ')}`);
  }
}
