// Dataset records -> teacher training examples: prompt token ids (within the context) and multi-hot targets.
import type { Dataset, DatasetRecord } from '../dataset/types.ts';
import { renderPrompt, type PromptTemplate } from './prompt.ts';
import type { ClassificationExample } from './train.ts';
import type { TeacherTokenizer } from './tokenizer.ts';

export interface ExampleStats {
  examples: number;
  meanTokens: number;
  maxTokens: number;
  /** Records whose prompt lost earlier encounters or current-list items to the budget. */
  truncated: number;
}

/** The label space: every label the dataset's summary counts, sorted (the head's output order). */
export function datasetLabels(ds: Dataset): string[] {
  const labels = new Set(Object.keys(ds.summary.labelFrequencies));
  for (const r of ds.records) for (const l of r.labels) labels.add(l);
  return [...labels].sort();
}

export interface ExampleOptions {
  template?: PromptTemplate;
  /** Token budget of a prompt, EOS included (at most the model's context). */
  maxTokens: number;
}

export function promptIds(record: DatasetRecord, names: Readonly<Record<string, string>>, tokenizer: TeacherTokenizer, o: ExampleOptions): { ids: number[]; truncated: boolean } {
  const r = renderPrompt(record, names, { ...(o.template ? { template: o.template } : {}), maxTokens: o.maxTokens, count: tokenizer.count });
  return { ids: tokenizer.encodePrompt(r.text), truncated: r.droppedForBudget > 0 || r.trimmedCurrent > 0 };
}

export function buildExamples(
  records: readonly DatasetRecord[],
  names: Readonly<Record<string, string>>,
  labels: readonly string[],
  tokenizer: TeacherTokenizer,
  o: ExampleOptions,
): { examples: Array<ClassificationExample & { encounterId: string }>; stats: ExampleStats } {
  const index = new Map(labels.map((l, i) => [l, i]));
  const examples: Array<ClassificationExample & { encounterId: string }> = [];
  let truncated = 0;
  let total = 0;
  let max = 0;
  for (const r of records) {
    const p = promptIds(r, names, tokenizer, o);
    if (p.truncated) truncated++;
    const target = new Float32Array(labels.length);
    // Labels outside the head's space (a dataset built after the teacher) are not silently dropped.
    for (const l of r.labels) {
      const i = index.get(l);
      if (i === undefined) throw new Error(`encounter ${r.encounterId}: label "${l}" is not in the teacher's label space`);
      target[i] = 1;
    }
    total += p.ids.length;
    max = Math.max(max, p.ids.length);
    examples.push({ encounterId: r.encounterId, ids: p.ids, target });
  }
  return { examples, stats: { examples: examples.length, meanTokens: examples.length ? total / examples.length : 0, maxTokens: max, truncated } };
}
