// The safetensors format, read and written directly: 8-byte little-endian header length, a JSON header
// (name -> dtype, shape, data_offsets), then raw little-endian tensor data. F32, F16 and BF16 become float32.
import { readFileSync, renameSync, writeFileSync, rmSync } from 'node:fs';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

function isHeaderEntry(v: unknown): v is HeaderEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.dtype === 'string' &&
    Array.isArray(e.shape) &&
    e.shape.every((d) => Number.isInteger(d) && (d as number) >= 0) &&
    Array.isArray(e.data_offsets) &&
    e.data_offsets.length === 2 &&
    e.data_offsets.every((d) => Number.isInteger(d) && (d as number) >= 0)
  );
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let frac = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    frac |= 0x800000;
    const shift = 14 - e;
    let half = frac >> shift;
    if ((frac >> (shift - 1)) & 1) half += 1;
    return sign | half;
  }
  let half = sign | (e << 10) | (frac >> 13);
  // Round to nearest; a carry into the exponent is the correct result.
  if (frac & 0x1000) half += 1;
  return half;
}

function floatToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if (Number.isNaN(x)) return 0x7fc0;
  // Round to nearest even on the dropped 16 bits.
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

function decode(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'F16') for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  else {
    const tmp = new Uint32Array(1);
    const asFloat = new Float32Array(tmp.buffer);
    for (let i = 0; i < n; i++) {
      tmp[0] = view.getUint16(i * 2, true) << 16;
      out[i] = asFloat[0]!;
    }
  }
  return out;
}

/** Tensors of one safetensors file, decoded lazily by name. */
export class SafetensorsFile {
  readonly metadata: Record<string, string>;
  private readonly entries = new Map<string, HeaderEntry>();

  private constructor(
    readonly path: string,
    private readonly bytes: Uint8Array,
    private readonly dataStart: number,
    header: Record<string, unknown>,
  ) {
    const meta = header.__metadata__;
    this.metadata = typeof meta === 'object' && meta !== null ? (meta as Record<string, string>) : {};
    const dataLength = bytes.byteLength - dataStart;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (!isHeaderEntry(entry)) throw new SafetensorsError(`${path}: header entry "${name}" is malformed`);
      const [begin, end] = entry.data_offsets;
      if (end < begin || end > dataLength) {
        throw new SafetensorsError(`${path}: tensor "${name}" data_offsets [${begin}, ${end}] lie outside the ${dataLength}-byte data section`);
      }
      const dtype = entry.dtype as SafetensorsDtype;
      if (dtype in BYTES) {
        const count = entry.shape.reduce((a, b) => a * b, 1);
        if (count * BYTES[dtype] !== end - begin) {
          throw new SafetensorsError(`${path}: tensor "${name}" has shape [${entry.shape.join(', ')}] ${dtype} but ${end - begin} bytes`);
        }
      }
      this.entries.set(name, entry);
    }
  }

  static read(path: string): SafetensorsFile {
    const buf = readFileSync(path);
    return SafetensorsFile.parse(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
  }

  static parse(bytes: Uint8Array, path = '<buffer>'): SafetensorsFile {
    if (bytes.byteLength < 8) throw new SafetensorsError(`${path}: too short to be a safetensors file`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = Number(view.getBigUint64(0, true));
    if (headerLength > bytes.byteLength - 8) {
      throw new SafetensorsError(`${path}: header length ${headerLength} exceeds the file size ${bytes.byteLength}`);
    }
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    } catch (err) {
      throw new SafetensorsError(`${path}: header is not valid JSON (${(err as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw new SafetensorsError(`${path}: header is not a JSON object`);
    }
    return new SafetensorsFile(path, bytes, 8 + headerLength, header as Record<string, unknown>);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  shape(name: string): number[] {
    return [...this.entry(name).shape];
  }

  dtype(name: string): string {
    return this.entry(name).dtype;
  }

  tensor(name: string): FloatTensor {
    const entry = this.entry(name);
    if (!(entry.dtype in BYTES)) {
      throw new SafetensorsError(`${this.path}: tensor "${name}" has dtype ${entry.dtype}; only F32, F16 and BF16 are supported`);
    }
    const [begin, end] = entry.data_offsets;
    // Copy: the data section need not be aligned for a typed-array view.
    const slice = this.bytes.slice(this.dataStart + begin, this.dataStart + end);
    return { shape: [...entry.shape], data: decode(entry.dtype as SafetensorsDtype, slice) };
  }

  private entry(name: string): HeaderEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new SafetensorsError(`${this.path}: no tensor named "${name}"`);
    return entry;
  }
}

/** Serialise tensors (sorted by name, as the Python writer does). */
export function encodeSafetensors(
  tensors: Record<string, FloatTensor>,
  options: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {},
): Uint8Array {
  const dtype = options.dtype ?? 'F32';
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(`tensor "${name}": shape [${t.shape.join(', ')}] needs ${count} values, got ${t.data.length}`);
    }
    const size = count * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces to an 8-byte boundary, as the reference writer does.
  const padded = Math.ceil(headerBytes.byteLength / 8) * 8;
  if (padded !== headerBytes.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(headerBytes);
    headerBytes = p;
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const name of names) {
    const data = tensors[name]!.data;
    if (dtype === 'F32') for (let i = 0; i < data.length; i++, pos += 4) view.setFloat32(pos, data[i]!, true);
    else if (dtype === 'F16') for (let i = 0; i < data.length; i++, pos += 2) view.setUint16(pos, floatToHalf(data[i]!), true);
    else for (let i = 0; i < data.length; i++, pos += 2) view.setUint16(pos, floatToBf16(data[i]!), true);
  }
  return out;
}

/** Write atomically: a temporary name, renamed when complete, so a crash never leaves half a file. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, FloatTensor>,
  options: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, options));
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
