// Per-sample metrics of the LEADER evaluation protocol (Jaccard, F1, PR-AUC, DDI rate, #Med).
// Labels are indices into the label vocabulary; scores are aligned with it.
//
// Conventions (the reference code leaves these cases undefined or crashing):
// - Jaccard and F1: when both the truth and the prediction are empty the sample scores 1 (they agree);
//   when exactly one of them is empty it scores 0.
// - Average precision of a sample with no positive label is NaN: precision-recall is undefined
//   there. Means over samples (`meanDefined`, `meanAveragePrecision`) skip NaN and say how many
//   samples counted, so a no-positive sample neither rewards nor punishes a method.
// - Ties in average precision follow scikit-learn's `average_precision_score` (which the LEADER
//   reference code calls per sample): tied scores form one threshold, so the order among tied
//   labels cannot change the result.

/** Indices whose score is at or above the threshold. */
export function predictedSet(scores: ArrayLike<number>, threshold: number): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < scores.length; i++) if ((scores[i] as number) >= threshold) out.add(i);
  return out;
}

function intersectionSize(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let n = 0;
  for (const x of small) if (large.has(x)) n++;
  return n;
}

/** |truth ∩ predicted| / |truth ∪ predicted|; 1 when both are empty. */
export function jaccard(predicted: ReadonlySet<number>, truth: ReadonlySet<number>): number {
  if (predicted.size === 0 && truth.size === 0) return 1;
  const inter = intersectionSize(predicted, truth);
  return inter / (predicted.size + truth.size - inter);
}

/** Harmonic mean of precision and recall (= 2|∩| / (|P| + |T|)); 1 when both are empty. */
export function f1(predicted: ReadonlySet<number>, truth: ReadonlySet<number>): number {
  if (predicted.size === 0 && truth.size === 0) return 1;
  return (2 * intersectionSize(predicted, truth)) / (predicted.size + truth.size);
}

/**
 * Average precision of one sample's score vector against its positive labels (per-sample PR-AUC):
 * AP = Σ_t (R_t − R_{t−1}) · P_t over the distinct score thresholds t, from high to low.
 * NaN when the sample has no positive label (see the conventions at the top of this file).
 */
export function averagePrecision(scores: ArrayLike<number>, truth: ReadonlySet<number>): number {
  const n = scores.length;
  let positives = 0;
  for (const t of truth) {
    if (!Number.isInteger(t) || t < 0 || t >= n) {
      throw new RangeError(`averagePrecision: truth label ${t} is outside the score vector (length ${n})`);
    }
    positives++;
  }
  if (positives === 0) return Number.NaN;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (scores[b] as number) - (scores[a] as number));
  let tp = 0;
  let seen = 0;
  let prevRecall = 0;
  let ap = 0;
  let i = 0;
  while (i < n) {
    const s = scores[order[i] as number] as number;
    // Consume the whole group of tied scores before taking the precision-recall point.
    while (i < n && scores[order[i] as number] === s) {
      if (truth.has(order[i] as number)) tp++;
      seen++;
      i++;
    }
    const recall = tp / positives;
    if (recall > prevRecall) {
      ap += (recall - prevRecall) * (tp / seen);
      prevRecall = recall;
    }
    if (tp === positives) break;
  }
  return ap;
}

/** Mean of the defined (non-NaN) values, and how many there were; mean is NaN when none is defined. */
export function meanDefined(values: Iterable<number>): { mean: number; count: number } {
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    sum += v;
    count++;
  }
  return { mean: count === 0 ? Number.NaN : sum / count, count };
}

/** Mean per-sample average precision over samples that have at least one positive label. */
export function meanAveragePrecision(
  scores: ReadonlyArray<ArrayLike<number>>,
  truths: ReadonlyArray<ReadonlySet<number>>,
): number {
  if (scores.length !== truths.length) {
    throw new RangeError(`meanAveragePrecision: ${scores.length} score vectors but ${truths.length} truth sets`);
  }
  return meanDefined(scores.map((s, i) => averagePrecision(s, truths[i] as ReadonlySet<number>))).mean;
}

/** Decides whether two labels interact (order does not matter), e.g. `LoadedMapping.interacts`. */
export type Interacts = (a: string, b: string) => boolean;

/** Interacting and total unordered pairs among one sample's labels. */
export function ddiPairs(
  set: Iterable<number>,
  labels: readonly string[],
  interacts: Interacts,
): { pairs: number; interacting: number } {
  const items = [...new Set(set)];
  let pairs = 0;
  let interacting = 0;
  for (let i = 0; i < items.length; i++) {
    const a = labels[items[i] as number];
    if (a === undefined) throw new RangeError(`ddiPairs: label index ${items[i]} is outside the label list`);
    for (let j = i + 1; j < items.length; j++) {
      const b = labels[items[j] as number];
      if (b === undefined) throw new RangeError(`ddiPairs: label index ${items[j]} is outside the label list`);
      pairs++;
      if (interacts(a, b)) interacting++;
    }
  }
  return { pairs, interacting };
}

/**
 * DDI rate: interacting pairs / all unordered label pairs, pooled over the given samples (as the
 * SafeDrug and LEADER reference code compute it, so samples with many labels weigh more).
 * Pass `[set]` for one sample. 0 when there is no pair at all.
 */
export function ddiRate(sets: ReadonlyArray<Iterable<number>>, labels: readonly string[], interacts: Interacts): number {
  let pairs = 0;
  let interacting = 0;
  for (const s of sets) {
    const c = ddiPairs(s, labels, interacts);
    pairs += c.pairs;
    interacting += c.interacting;
  }
  return pairs === 0 ? 0 : interacting / pairs;
}

/** An `Interacts` backed by a label-index matrix: fast when the same label list is scored many times. */
export class InteractionMatrix {
  private readonly bits: Uint8Array;
  private readonly n: number;

  constructor(labels: readonly string[], interacts: Interacts) {
    this.n = labels.length;
    this.bits = new Uint8Array(this.n * this.n);
    for (let i = 0; i < this.n; i++) {
      for (let j = i + 1; j < this.n; j++) {
        if (interacts(labels[i] as string, labels[j] as string)) {
          this.bits[i * this.n + j] = 1;
          this.bits[j * this.n + i] = 1;
        }
      }
    }
  }

  has(i: number, j: number): boolean {
    return this.bits[i * this.n + j] === 1;
  }

  /** Same as `ddiPairs`, by index. */
  pairs(set: Iterable<number>): { pairs: number; interacting: number } {
    const items = [...new Set(set)];
    let pairs = 0;
    let interacting = 0;
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        pairs++;
        if (this.bits[(items[i] as number) * this.n + (items[j] as number)] === 1) interacting++;
      }
    }
    return { pairs, interacting };
  }
}
