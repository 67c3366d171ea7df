// A small typed helper over onnx-proto for building ONNX graphs in code (no Python in the loop).
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;

export const OPSET = 17;
/** IR version 8 goes with opset 17 (ONNX 1.13). */
export const IR_VERSION = 8;

export type Attr = { int: number } | { ints: number[] } | { float: number };
export const int = (v: number): Attr => ({ int: v });
export const ints = (v: number[]): Attr => ({ ints: v });
export const float = (v: number): Attr => ({ float: v });

export type Dim = number | string;

function attribute(name: string, a: Attr): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return { name, type: T.INT, i: a.int };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  return { name, type: T.FLOAT, f: a.float };
}

function valueInfo(name: string, elemType: number, dims: Dim[]): IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

export class GraphBuilder {
  private readonly nodes: INodeProto[] = [];
  private readonly initializers: ITensorProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private readonly int64Consts = new Map<string, string>();
  private readonly floatConsts = new Map<number, string>();
  private counter = 0;

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: 'int64' | 'float', dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type === 'int64' ? onnx.TensorProto.DataType.INT64 : onnx.TensorProto.DataType.FLOAT, dims));
    return name;
  }

  output(name: string, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, onnx.TensorProto.DataType.FLOAT, dims));
  }

  /** A float32 initializer (weights). */
  floatTensor(name: string, data: Float32Array, dims: number[]): string {
    const raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
    return name;
  }

  /** An int64 constant; `scalar` gives a rank-0 tensor (for Gather of one column). */
  int64(values: number[], scalar = false): string {
    const key = `${scalar ? 's' : 'v'}:${values.join(',')}`;
    const known = this.int64Consts.get(key);
    if (known) return known;
    const name = this.fresh('const_i64');
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push({ name, dims: scalar ? [] : [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: raw });
    this.int64Consts.set(key, name);
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number): string {
    const known = this.floatConsts.get(value);
    if (known) return known;
    const name = this.fresh('const_f32');
    this.floatTensor(name, Float32Array.of(value), []);
    this.floatConsts.set(value, name);
    return name;
  }

  /** Adds a node and returns its (first) output name; `output` names it (graph outputs). */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    const out = output ?? this.fresh(type.toLowerCase());
    this.nodes.push({
      opType: type,
      input: inputs,
      output: [out],
      name: this.fresh(`n_${type}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  build(graphName: string, docString: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'leader-cds',
      producerVersion: '1',
      docString,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
