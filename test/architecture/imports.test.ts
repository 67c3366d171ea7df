// The import rules of docs/architecture.md, checked: statically over src/ (every relative import and dynamic
// import), and by loading the serving entry points with a resolve hook that logs every module actually loaded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const src = path.join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Every `from '...'` and `import('...')` of a file, resolved to a path relative to src/ (packages as they are). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom|\bimport\s*\()\s*['"]([^'"]+)['"]/g)) {
    const spec = m[1]!;
    out.push(spec.startsWith('.') ? path.relative(src, path.resolve(path.dirname(file), spec)) : spec);
  }
  return out;
}

/** Module path -> what it may not import (prefixes of paths relative to src/, or package names). */
const rules: Array<{ module: RegExp; forbidden: RegExp; why: string }> = [
  { module: /^model\/contract\.ts$/, forbidden: /.*/, why: 'the model contract is dependency-free' },
  {
    module: /^(history|mapping|fhir|dataset)\//,
    forbidden: /^(service|model|teacher|eval|retrain|cli|bulk|shadow|synth)\/|^@tensorflow\//,
    why: 'the clinical data layer sits below the model, the service and training',
  },
  {
    module: /^model\/runtime\//,
    forbidden: /^(model\/(tf|onnx)|model\/student\/(model|train|train-directory|weights|adam|loss|evaluate|recommender|artifact|reduction-gradients|teacher-features)|teacher|eval|retrain|service|cli)\b|^@tensorflow\//,
    why: 'the serving runtime loads no training code (onnxruntime only)',
  },
  {
    module: /^service\//,
    forbidden: /^(cli|teacher|eval|bulk|synth|model\/(tf|onnx|student))\/|^@tensorflow\//,
    why: 'the service reaches the model through model/runtime only, and never loads training code',
  },
  { module: /^shadow\//, forbidden: /^(model|teacher|eval|retrain|cli)\/|^@tensorflow\//, why: 'shadow reports read logs and orders, not models' },
  { module: /./, forbidden: /^\.\.\/(test|bench|scripts)\//, why: 'src never imports tests, benches or scripts' },
];

describe('import rules (docs/architecture.md)', () => {
  test('every src module keeps to its rules', () => {
    const broken: string[] = [];
    for (const file of files(src)) {
      const rel = path.relative(src, file);
      for (const target of importsOf(file)) {
        for (const rule of rules) {
          if (rule.module.test(rel) && rule.forbidden.test(target)) {
            broken.push(`${rel} imports ${target}: ${rule.why}`);
          }
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  test('the rules can fail: a forbidden import is reported', () => {
    const rule = rules.find((r) => r.module.test('model/runtime/session.ts'))!;
    assert.ok(rule.forbidden.test('model/onnx/export.ts'));
    assert.ok(rule.forbidden.test('@tensorflow/tfjs-core'));
    assert.ok(!rule.forbidden.test('model/contract.ts'));
  });

  test('loading the service and what it loads lazily resolves no tfjs, teacher, evaluation or export module', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'leader-cds-imports-'));
    try {
      const log = path.join(dir, 'imports.txt');
      // The modules wiring.ts imports lazily when it loads a model, besides the entry point itself.
      const entry = ['service/server.ts', 'service/wiring.ts', 'mapping/load.ts', 'model/runtime/session.ts', 'service/hooks/services.ts', 'fhir/bundle-reader.ts', 'dataset/records.ts', 'cli/commands/serve.ts']
        .map((m) => `await import(${JSON.stringify(path.join(src, m))});`)
        .join(' ');
      const run = spawnSync(process.execPath, ['--import', path.join(root, 'test/support/import-log-register.mjs'), '--import', 'tsx', '--input-type=module', '-e', entry], {
        cwd: root,
        env: { ...process.env, IMPORT_LOG: log },
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(run.status, 0, run.stderr);
      const loaded = [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
      assert.ok(loaded.some((u) => u.includes('onnxruntime-node')), 'the log saw the runtime load (the hook works)');
      const training = loaded.filter((u) => /@tensorflow\/|\/src\/(teacher|eval|model\/tf|model\/onnx)\//.test(u) || /\/src\/model\/student\/(model|train|weights)\.ts/.test(u));
      assert.deepEqual(training, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
