// A finished model directory as an evaluation method: nothing to fit, scores come from its ONNX graph, so the
// served model and a candidate are compared on exactly the same test split as the baselines.
import type { DatasetRecord } from '../dataset/types.ts';
import type { FitContext, FitReport, Recommender } from '../eval/method.ts';
import { StudentRuntime } from '../model/runtime/session.ts';

export class PretrainedModelMethod implements Recommender {
  private runtime: StudentRuntime | undefined;
  private columns: Int32Array = new Int32Array(0);
  threshold = 0.3;

  constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  async fit(_train: readonly DatasetRecord[], _validation: readonly DatasetRecord[], ctx: FitContext): Promise<FitReport> {
    const started = performance.now();
    this.runtime ??= await StudentRuntime.load(this.dir, { provider: 'cpu' });
    this.threshold = this.runtime.manifest.thresholds.default;
    // The harness's label order may differ from the model's; labels the model never learned score 0.
    const own = new Map(this.runtime.labels.map((l, i) => [l, i] as const));
    this.columns = Int32Array.from(ctx.labels, (l) => own.get(l) ?? -1);
    return { seconds: (performance.now() - started) / 1000 };
  }

  async predict(records: readonly DatasetRecord[]): Promise<Float32Array[]> {
    const runtime = this.runtime;
    if (!runtime) throw new Error(`${this.name}: predict before fit`);
    const L = runtime.labels.length;
    const out: Float32Array[] = [];
    for (let i = 0; i < records.length; i += 512) {
      const part = records.slice(i, i + 512);
      const { probabilities } = await runtime.runRaw(part);
      for (let j = 0; j < part.length; j++) {
        const row = new Float32Array(this.columns.length);
        for (let c = 0; c < this.columns.length; c++) {
          const k = this.columns[c]!;
          if (k >= 0) row[c] = probabilities[j * L + k]!;
        }
        out.push(row);
      }
    }
    return out;
  }

  /** The harness closes each method after predicting; closing twice is harmless. */
  async close(): Promise<void> {
    const runtime = this.runtime;
    this.runtime = undefined;
    await runtime?.close();
  }
}
