import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { teacherDataset, writeDatasetFile } from './fixtures.ts';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/leader-cds.js');

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(path.join(tmpdir(), 'teacher-cli-'));
const dataset = path.join(dir, 'train.jsonl');
writeDatasetFile(dataset, teacherDataset(40, 3));

describe('leader-cds prompt / teacher', () => {
  test('prompt prints the LEADER prompt of an encounter; bad input exits 2 naming the problem', () => {
    const r = run('prompt', '--dataset', dataset, '--encounter', 'enc-1-1');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^The patient has had 1 earlier encounters\.\n/);
    assert.match(r.stdout, /In earlier encounter 1, the patient had diagnoses: /);
    assert.match(r.stdout, /Then, the patient should be prescribed:\n$/);
    const missing = run('prompt', '--dataset', dataset, '--encounter', 'nope');
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /train\.jsonl: no record for encounter "nope"/);
    const tpl = path.join(dir, 'bad.yaml');
    writeFileSync(tpl, 'current: "{diagnosis}"\n');
    const bad = run('prompt', '--dataset', dataset, '--encounter', 'enc-1-1', '--template', tpl);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad\.yaml: section "current" uses unknown slot \{diagnosis\}/);
    const broken = path.join(dir, 'broken.jsonl');
    writeFileSync(broken, readFileSync(dataset, 'utf8').split('\n').slice(0, 3).join('\n'));
    const trunc = run('prompt', '--dataset', broken, '--encounter', 'enc-0-0');
    assert.equal(trunc.status, 2);
    assert.match(trunc.stderr, /broken\.jsonl/);
  });

  test('teacher train (from scratch) writes a complete teacher; predict, prompt --teacher and features read it', async () => {
    const out = path.join(dir, 'teacher');
    const args = ['teacher', 'train', '--dataset', dataset, '--out', out, '--hidden', '32', '--layers', '1', '--context', '96', '--vocab', '350',
      '--pretrain-steps', '2', '--steps', '3', '--batch-size', '4', '--accumulation', '1', '--backend', 'wasm', '--quiet', '--json'];
    const r = run(...args);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { manifest: { labels: string[]; finetune: string; maxTokens: number }; finetuneLosses: number[] };
    assert.equal(result.manifest.finetune, 'full');
    assert.equal(result.manifest.maxTokens, 96);
    assert.equal(result.finetuneLosses.length, 3);
    assert.deepEqual(readdirSync(out).sort(), ['adapter_model.safetensors', 'model', 'teacher.json']);
    assert.ok(existsSync(path.join(out, 'model', 'tokenizer.json')));

    const p = run('teacher', 'predict', '--teacher', out, '--dataset', dataset, '--encounter', 'enc-0-0', '--json', '--backend', 'wasm');
    assert.equal(p.status, 0, p.stderr);
    const pred = JSON.parse(p.stdout) as Array<{ labels: Array<{ label: string; probability: number }> }>;
    assert.equal(pred.length, 1);
    assert.ok(pred[0]!.labels.every((x) => x.probability > 0 && x.probability < 1 && result.manifest.labels.includes(x.label)));

    const pr = run('prompt', '--dataset', dataset, '--encounter', 'enc-0-0', '--teacher', out, '--json');
    assert.equal(pr.status, 0, pr.stderr);
    assert.ok((JSON.parse(pr.stdout) as { tokens: number }).tokens <= 96);

    const feats = path.join(dir, 'features');
    const f = run('teacher', 'features', '--teacher', out, '--dataset', dataset, '--out', feats, '--backend', 'wasm', '--quiet', '--json');
    assert.equal(f.status, 0, f.stderr);
    assert.ok(existsSync(path.join(out, 'teacher.onnx')));
    const { readTeacherFeatures } = await import('../../src/model/student/teacher-features.ts');
    const tf = await readTeacherFeatures(feats);
    assert.equal(tf.dim, 32);
    assert.equal(tf.index.rows.length, readFileSync(dataset, 'utf8').split('\n').filter((l) => l.includes('"type":"record"')).length);
    assert.ok(tf.get('pat-0', 'enc-0-0')!.some((v) => v !== 0));

    const again = run(...args);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already holds a trained teacher/);
  });

  test('a checkpoint folder whose config does not fit is refused before training', () => {
    const ckpt = path.join(dir, 'ckpt');
    const out = path.join(dir, 'never');
    const r = run('teacher', 'train', '--dataset', dataset, '--out', out, '--checkpoint', ckpt, '--backend', 'wasm', '--quiet');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ckpt: no config\.json/);
    assert.ok(!existsSync(path.join(out, 'teacher.json')));
  });
});
