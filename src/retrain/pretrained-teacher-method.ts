// The retraining run's teacher as an evaluation method: trained by the `teacher` stage on the same training
// patients as the candidate, so fitting does nothing and the scores come from its ONNX export at the paper's
// teacher threshold.
import type { DatasetRecord } from '../dataset/types.ts';
import type { FitContext, FitReport, Recommender } from '../eval/method.ts';
import { TEACHER_THRESHOLD } from '../teacher/recommender.ts';
import { openTeacherScorer, type TeacherScorer } from './teacher-scorer.ts';

export class PretrainedTeacherMethod implements Recommender {
  readonly threshold = TEACHER_THRESHOLD;
  private scorer: TeacherScorer | undefined;
  private columns: Int32Array = new Int32Array(0);

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly names: Readonly<Record<string, string>>,
    private readonly batchSize = 32,
  ) {}

  async fit(_train: readonly DatasetRecord[], _validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const started = performance.now();
    this.scorer ??= await openTeacherScorer(this.dir);
    // The harness's label order may differ from the teacher's head; labels the head lacks score 0.
    const own = new Map(this.scorer.manifest.labels.map((l, i) => [l, i] as const));
    this.columns = Int32Array.from(ctx.labels, (l) => own.get(l) ?? -1);
    return { seconds: (performance.now() - started) / 1000 };
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    const scorer = this.scorer;
    if (!scorer) throw new Error(`${this.name}: predict before fit`);
    const L = scorer.manifest.labels.length;
    const { probabilities } = await scorer.score(records, this.names, { batchSize: this.batchSize });
    return records.map((_, i) => Float32Array.from(this.columns, (k) => (k >= 0 ? probabilities[i * L + k]! : 0)));
  }

  async close(): Promise<void> {
    const scorer = this.scorer;
    this.scorer = undefined;
    await scorer?.close();
  }
}
