// The student model's contract between training (tfjs, the ONNX exporter) and serving (onnxruntime): tensor names,
// input signatures and constants both sides must agree on. Dependency-free on purpose: the serving core imports it
// and must never load training code (docs/architecture.md).

/** The ONNX graph's inputs, in order: per kind the packed code sets and the per-visit slot index, then the profile. */
export const INPUT_NAMES = [
  'diagnosis_codes',
  'diagnosis_slots',
  'procedure_codes',
  'procedure_slots',
  'medication_codes',
  'medication_slots',
  'profile',
] as const;

export type InputName = (typeof INPUT_NAMES)[number];

export const OUTPUT_NAMES = ['probabilities', 'feature'] as const;

/** Input signatures, as the manifest records them. */
export function inputSpecs(profileFields: number): Array<{ name: InputName; type: 'int64'; shape: Array<number | string> }> {
  return [
    { name: 'diagnosis_codes', type: 'int64', shape: ['diagnosis_sets', 'diagnosis_width'] },
    { name: 'diagnosis_slots', type: 'int64', shape: ['batch', 'visits'] },
    { name: 'procedure_codes', type: 'int64', shape: ['procedure_sets', 'procedure_width'] },
    { name: 'procedure_slots', type: 'int64', shape: ['batch', 'visits'] },
    { name: 'medication_codes', type: 'int64', shape: ['medication_sets', 'medication_width'] },
    { name: 'medication_slots', type: 'int64', shape: ['batch', 'history'] },
    { name: 'profile', type: 'int64', shape: ['batch', profileFields] },
  ];
}

/** Added to attention scores of padding positions (tfjs model and ONNX graph alike). */
export const MASK_BIAS = -1e9;
