import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { encodeSafetensors, SafetensorsError, SafetensorsFile, writeSafetensors } from '../../src/teacher/safetensors.ts';
import { assertClose } from './helpers.ts';

const values = new Float32Array([0, 1, -2.5, 3.140625, 65504, -0.0001, 1e-7, 0.333333]);

describe('safetensors', () => {
  test('F32 round trip is exact and keeps names, shapes and metadata', () => {
    const bytes = encodeSafetensors(
      { 'model.norm.weight': { shape: [8], data: values }, 'a.b': { shape: [2, 4], data: values.map((v) => v * 2) } },
      { metadata: { format: 'pt' } },
    );
    const f = SafetensorsFile.parse(bytes);
    assert.deepEqual(f.names().sort(), ['a.b', 'model.norm.weight']);
    assert.deepEqual(f.shape('a.b'), [2, 4]);
    assert.deepEqual(f.metadata, { format: 'pt' });
    assert.deepEqual([...f.tensor('model.norm.weight').data], [...values]);
    assert.deepEqual([...f.tensor('a.b').data], [...values.map((v) => v * 2)]);
    // Header is padded to 8 bytes, as the reference writer does.
    assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0);
  });

  test('F16 and BF16 decode to float32 within their precision', () => {
    for (const [dtype, rel] of [['F16', 1e-3], ['BF16', 8e-3]] as const) {
      const f = SafetensorsFile.parse(encodeSafetensors({ x: { shape: [8], data: values } }, { dtype }));
      assert.equal(f.dtype('x'), dtype);
      const back = f.tensor('x').data;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        const tol = Math.max(Math.abs(v) * rel, dtype === 'F16' ? 6e-8 : 1e-38);
        assert.ok(Math.abs(back[i]! - v) <= tol, `${dtype} value ${v} came back as ${back[i]}`);
      }
    }
    // Known bit patterns: 0x3c00 = 1.0 (F16), 0x3f80 = 1.0 (BF16), 0xc000 = -2 (F16).
    const raw = (dtype: string, words: number[]) => {
      const header = new TextEncoder().encode(JSON.stringify({ x: { dtype, shape: [words.length], data_offsets: [0, words.length * 2] } }));
      const out = new Uint8Array(8 + header.length + words.length * 2);
      const view = new DataView(out.buffer);
      view.setBigUint64(0, BigInt(header.length), true);
      out.set(header, 8);
      words.forEach((w, i) => view.setUint16(8 + header.length + i * 2, w, true));
      return SafetensorsFile.parse(out).tensor('x').data;
    };
    assertClose(raw('F16', [0x3c00, 0xc000, 0x0001]), [1, -2, 2 ** -24], 0, 'F16 bits');
    assertClose(raw('BF16', [0x3f80, 0xc040]), [1, -3], 0, 'BF16 bits');
  });

  test('malformed files give errors that name the problem', () => {
    assert.throws(() => SafetensorsFile.parse(new Uint8Array(4)), SafetensorsError);
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setBigUint64(0, 1000n, true);
    assert.throws(() => SafetensorsFile.parse(bad), /header length 1000 exceeds/);
    const good = encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(4) } });
    assert.throws(() => SafetensorsFile.parse(good.subarray(0, good.length - 4)), /tensor "w" data_offsets/);
    assert.throws(() => SafetensorsFile.parse(good).tensor('nope'), /no tensor named "nope"/);
    assert.throws(() => encodeSafetensors({ w: { shape: [3], data: new Float32Array(2) } }), /needs 3 values, got 2/);
  });

  test('writes atomically: no temporary file is left behind', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'st-'));
    const file = path.join(dir, 'model.safetensors');
    writeFileSync(file, 'old');
    writeSafetensors(file, { w: { shape: [1], data: new Float32Array([7]) } });
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    assert.deepEqual([...SafetensorsFile.read(file).tensor('w').data], [7]);
  });
});
