// The student's parameters as plain named float arrays: the single source for tfjs training, ONNX export and saving.
// Initialisation is seeded (same seed, same weights) and independent of the tfjs backend.
import { SeededRandom } from '../../eval/random.ts';
import { wideWidth, type StudentConfig } from './config.ts';

export interface Weight {
  shape: number[];
  data: Float32Array;
}
export type WeightMap = Map<string, Weight>;

export interface TableSizes {
  diagnoses: number;
  procedures: number;
  medications: number;
  profile: number[];
}

type Init = 'embedding' | 'glorot' | 'zeros' | 'ones';
interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

export const SET_KINDS = ['diagnosis', 'procedure', 'medication'] as const;

function blockSpecs(prefix: string, c: StudentConfig): ParamSpec[] {
  const d = c.dim;
  return [
    { name: `${prefix}.ln1.g`, shape: [d], init: 'ones' },
    { name: `${prefix}.ln1.b`, shape: [d], init: 'zeros' },
    { name: `${prefix}.wq`, shape: [d, d], init: 'glorot' },
    { name: `${prefix}.bq`, shape: [d], init: 'zeros' },
    { name: `${prefix}.wk`, shape: [d, d], init: 'glorot' },
    { name: `${prefix}.bk`, shape: [d], init: 'zeros' },
    { name: `${prefix}.wv`, shape: [d, d], init: 'glorot' },
    { name: `${prefix}.bv`, shape: [d], init: 'zeros' },
    { name: `${prefix}.wo`, shape: [d, d], init: 'glorot' },
    { name: `${prefix}.bo`, shape: [d], init: 'zeros' },
    { name: `${prefix}.ln2.g`, shape: [d], init: 'ones' },
    { name: `${prefix}.ln2.b`, shape: [d], init: 'zeros' },
    { name: `${prefix}.ff1.w`, shape: [d, c.ffn], init: 'glorot' },
    { name: `${prefix}.ff1.b`, shape: [c.ffn], init: 'zeros' },
    { name: `${prefix}.ff2.w`, shape: [c.ffn, d], init: 'glorot' },
    { name: `${prefix}.ff2.b`, shape: [d], init: 'zeros' },
  ];
}

/** Rows of the recency table: distances 0 (current) to maxVisits - 1; one more so that maxVisits 1 still has row 1 for its always-present medication slot. */
export function positionRows(c: Pick<StudentConfig, 'maxVisits'>): number {
  return c.maxVisits + 1;
}

/** Names of the wide term's tables (config.wide 'linear'): one [rows, labels] table per feature group. */
export const WIDE_TABLES = {
  diagnosis: 'wide.diagnosis',
  procedure: 'wide.procedure',
  lastMedication: 'wide.medication.last',
  anyMedication: 'wide.medication.any',
  profile: (field: number) => `wide.profile.${field}`,
  /** wide 'hidden' only: the hidden layer's bias [H] and its output weights [H, labels]. */
  hiddenBias: 'wide.hidden.b',
  output: 'wide.out',
} as const;

export const isWideParameter = (name: string): boolean => name.startsWith('wide.');

/**
 * The wide term's tables, initialised at zero so that training starts from the deep model alone (and zeros draw
 * nothing from the seeded generator: the other parameters keep their initial values). Row 0 of the set tables is
 * padding and masked out in the forward pass; row 0 of a profile table is "missing", a real value.
 */
function wideSpecs(c: StudentConfig, sizes: TableSizes, labels: number): ParamSpec[] {
  // 'hidden': random tables (a ReLU layer at zero would get no gradient) and a zero output layer, so training still
  // starts from the deep model alone.
  const init: Init = c.wide === 'hidden' ? 'embedding' : 'zeros';
  const width = wideWidth(c, labels);
  return [
    { name: WIDE_TABLES.diagnosis, shape: [sizes.diagnoses, width], init },
    { name: WIDE_TABLES.procedure, shape: [sizes.procedures, width], init },
    { name: WIDE_TABLES.lastMedication, shape: [sizes.medications, width], init },
    { name: WIDE_TABLES.anyMedication, shape: [sizes.medications, width], init },
    ...sizes.profile.map((n, i): ParamSpec => ({ name: WIDE_TABLES.profile(i), shape: [n, width], init })),
    ...(c.wide === 'hidden'
      ? [
          { name: WIDE_TABLES.hiddenBias, shape: [width], init: 'zeros' } satisfies ParamSpec,
          { name: WIDE_TABLES.output, shape: [width, labels], init: 'zeros' } satisfies ParamSpec,
        ]
      : []),
  ];
}

/** Every parameter of the student. `teacherDim` adds the distillation projection (training only, not exported). */
export function parameterSpecs(c: StudentConfig, sizes: TableSizes, labels: number, teacherDim?: number): ParamSpec[] {
  const d = c.dim;
  const specs: ParamSpec[] = [
    { name: 'emb.diagnosis', shape: [sizes.diagnoses, d], init: 'embedding' },
    { name: 'emb.procedure', shape: [sizes.procedures, d], init: 'embedding' },
    { name: 'emb.medication', shape: [sizes.medications, d], init: 'embedding' },
    ...sizes.profile.map((n, i): ParamSpec => ({ name: `emb.profile.${i}`, shape: [n, d], init: 'embedding' })),
    { name: 'prompt.w', shape: [sizes.profile.length * d, d], init: 'glorot' },
    { name: 'prompt.b', shape: [d], init: 'zeros' },
    ...SET_KINDS.flatMap((k) => blockSpecs(`set.${k}`, c)),
    ...blockSpecs('visit', c),
    { name: 'head1.w', shape: [3 * d, c.hidden], init: 'glorot' },
    { name: 'head1.b', shape: [c.hidden], init: 'zeros' },
    { name: 'head2.w', shape: [c.hidden, labels], init: 'glorot' },
    { name: 'head2.b', shape: [labels], init: 'zeros' },
    // Last, so that the other parameters draw the same initial values with and without it (clean ablation).
    ...(c.recency === 'position' ? [{ name: 'pos.visit', shape: [positionRows(c), d], init: 'embedding' } satisfies ParamSpec] : []),
    ...(c.wide !== 'none' ? wideSpecs(c, sizes, labels) : []),
  ];
  if (teacherDim !== undefined) {
    specs.push({ name: 'distill.w', shape: [c.hidden, teacherDim], init: 'glorot' });
    specs.push({ name: 'distill.b', shape: [teacherDim], init: 'zeros' });
  }
  return specs;
}

export function initWeights(specs: readonly ParamSpec[], seed: number): WeightMap {
  const rng = new SeededRandom(seed);
  const out: WeightMap = new Map();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (s.init === 'ones') data.fill(1);
    else if (s.init === 'embedding') for (let i = 0; i < n; i++) data[i] = rng.normal() * 0.1;
    else if (s.init === 'glorot') {
      const limit = Math.sqrt(6 / (s.shape[0]! + s.shape[1]!));
      for (let i = 0; i < n; i++) data[i] = (rng.float() * 2 - 1) * limit;
    }
    out.set(s.name, { shape: [...s.shape], data });
  }
  return out;
}

export function parameterCount(weights: WeightMap, include: (name: string) => boolean = () => true): number {
  let n = 0;
  for (const [name, w] of weights) if (include(name)) n += w.data.length;
  return n;
}
