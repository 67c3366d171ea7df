// The retraining engine: a plan of stages, each run at most once per content key. The same coordinator drives an
// in-process executor (`--inline`, no Redis) or bull queues that spread tasks over workers.
import { ArtifactStore, artifactKey, type ArtifactRef } from './artifacts.ts';

/** Typed progress of a run; reporters (CLI bar, logs, bull job progress) subscribe. */
export type RunEvent =
  | { type: 'stage-start'; stage: string; key: string; tasks: number }
  | { type: 'stage-skip'; stage: string; key: string }
  | { type: 'task-progress'; stage: string; key: string; fraction: number; message?: string }
  | { type: 'stage-end'; stage: string; key: string; seconds: number }
  | { type: 'message'; text: string }
  | { type: 'run-end'; seconds: number; outputs: Record<string, unknown> };

export interface TaskContext {
  /** Private output folder; everything written here becomes the artifact. Outputs name files relative to it. */
  dir: string;
  store: ArtifactStore;
  signal: AbortSignal;
  progress(fraction: number, message?: string): void;
}

/** A resolved input: the artifact's folder and its recorded output. */
export interface InputArtifact<O = unknown> {
  ref: ArtifactRef;
  output: O;
}

export interface StageImpl<P = unknown, O = unknown> {
  name: string;
  /** Bump when the stage's code changes what it produces, so old artifacts are not reused. */
  version: number;
  run(params: P, inputs: Record<string, InputArtifact>, ctx: TaskContext): Promise<O>;
}

/** One unit of work, as it travels through a queue: plain JSON. */
export interface Task {
  /** Artifact store root (shared by every worker). */
  root: string;
  stage: string;
  key: string;
  params: unknown;
  inputs: Record<string, { stage: string; key: string }>;
}

export interface Executor {
  /** Runs the tasks (in parallel where the executor can) and returns their outputs in order. */
  runAll(tasks: Task[], onProgress: (task: Task, fraction: number, message?: string) => void): Promise<unknown[]>;
}

export class StageRegistry {
  private readonly stages = new Map<string, StageImpl>();
  add<P, O>(stage: StageImpl<P, O>): this {
    if (this.stages.has(stage.name)) throw new Error(`stage ${stage.name} registered twice`);
    this.stages.set(stage.name, stage as StageImpl);
    return this;
  }
  get(name: string): StageImpl {
    const stage = this.stages.get(name);
    if (!stage) throw new Error(`unknown stage ${name}`);
    return stage;
  }
}

/** Executes one task: resolves inputs, runs the stage in a private folder, commits the artifact. Idempotent. */
export async function executeTask(
  task: Task,
  registry: StageRegistry,
  store: ArtifactStore,
  signal: AbortSignal,
  progress: (fraction: number, message?: string) => void,
): Promise<unknown> {
  const stage = registry.get(task.stage);
  const inputs: Record<string, InputArtifact> = {};
  for (const [name, ref] of Object.entries(task.inputs)) {
    const found = await store.find(ref.stage, ref.key);
    if (!found) throw new Error(`input ${name} (${ref.stage}/${ref.key}) of ${task.stage} is missing`);
    inputs[name] = found;
  }
  const { output } = await store.commit(task.stage, task.key, (dir) => stage.run(task.params, inputs, { dir, store, signal, progress }));
  return output;
}

export class InlineExecutor implements Executor {
  constructor(
    private readonly registry: StageRegistry,
    private readonly store: ArtifactStore,
    private readonly signal: AbortSignal = new AbortController().signal,
  ) {}
  async runAll(tasks: Task[], onProgress: (task: Task, fraction: number, message?: string) => void): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const task of tasks) out.push(await executeTask(task, this.registry, this.store, this.signal, (f, m) => onProgress(task, f, m)));
    return out;
  }
}

/** A step of a plan: a stage run once, or fanned out over items (one task each). */
export interface PlanStep {
  id: string;
  stage: string;
  params: unknown;
  /** Input artifacts by name -> id of an earlier step (a fanned-out step's outputs come as `name.0`, `name.1`, ...). */
  inputs?: Record<string, string>;
  /** Fan-out: one task per element, with `{ ...params, item }`; the items come from an earlier step's output. */
  fanOut?: { from: string; select: (output: unknown) => unknown[] };
}

export interface StepResult {
  refs: Array<{ stage: string; key: string }>;
  outputs: unknown[];
}

/**
 * Runs the plan's steps in order. Keys are computed before anything runs, so a step whose artifact exists is
 * skipped: a run killed midway resumes where it stopped, on any worker.
 */
export async function runPlan(
  steps: PlanStep[],
  registry: StageRegistry,
  store: ArtifactStore,
  executor: Executor,
  onEvent: (event: RunEvent) => void = () => {},
): Promise<Map<string, StepResult>> {
  const started = Date.now();
  const results = new Map<string, StepResult>();
  for (const step of steps) {
    const stage = registry.get(step.stage);
    const inputs: Record<string, { stage: string; key: string }> = {};
    for (const [name, from] of Object.entries(step.inputs ?? {})) {
      const prior = results.get(from);
      if (!prior) throw new Error(`step ${step.id} needs ${from}, which has not run`);
      if (prior.refs.length === 1) inputs[name] = prior.refs[0]!;
      else prior.refs.forEach((ref, i) => (inputs[`${name}.${i}`] = ref));
    }
    const items = step.fanOut ? step.fanOut.select(results.get(step.fanOut.from)?.outputs[0]) : [undefined];
    const tasks: Task[] = items.map((item) => {
      const params = step.fanOut ? { ...(step.params as object), item } : step.params;
      const inputKeys = Object.entries(inputs)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([n, r]) => `${n}=${r.stage}/${r.key}`);
      return { root: store.root, stage: step.stage, key: artifactKey(step.stage, stage.version, params, inputKeys), params, inputs };
    });
    const stepKey = tasks.length === 1 ? tasks[0]!.key : `${tasks.length} tasks`;
    const pending: Task[] = [];
    for (const task of tasks) if (!(await store.find(task.stage, task.key))) pending.push(task);
    const t0 = Date.now();
    if (pending.length === 0) onEvent({ type: 'stage-skip', stage: step.id, key: stepKey });
    else {
      onEvent({ type: 'stage-start', stage: step.id, key: stepKey, tasks: pending.length });
      await executor.runAll(pending, (task, fraction, message) => onEvent({ type: 'task-progress', stage: step.id, key: task.key, fraction, ...(message ? { message } : {}) }));
      onEvent({ type: 'stage-end', stage: step.id, key: stepKey, seconds: (Date.now() - t0) / 1000 });
    }
    const outputs: unknown[] = [];
    for (const task of tasks) {
      const found = await store.find(task.stage, task.key);
      if (!found) throw new Error(`${step.id}: the task finished but its artifact ${task.stage}/${task.key} is not in ${store.root} (do the workers share this work dir?)`);
      outputs.push(found.output);
    }
    results.set(step.id, { refs: tasks.map((t) => ({ stage: t.stage, key: t.key })), outputs });
  }
  onEvent({
    type: 'run-end',
    seconds: (Date.now() - started) / 1000,
    outputs: Object.fromEntries([...results].map(([id, r]) => [id, r.outputs.length === 1 ? r.outputs[0] : r.outputs])),
  });
  return results;
}
