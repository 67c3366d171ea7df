/** A model directory that cannot be used: missing or invalid manifest, damaged or mismatched model.onnx. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}
