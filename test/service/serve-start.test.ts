// `leader-cds serve` at start (issue 11): it exits non-zero on a broken mapping or a model trained on another
// mapping (naming both), serves a matching pair, and serves a mismatched one only when forced, counted in a metric.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMapping } from '../../src/mapping/load.ts';
import { projectRoot } from '../../src/service/config.ts';
import { checkModelMapping } from '../../src/service/model-mapping.ts';
import { mappingFingerprint } from '../../src/mapping/fingerprint.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'leader-cds-serve-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = path.join(projectRoot, 'bin/leader-cds.js');
const demoModel = path.join(projectRoot, 'models/demo');

/** The synthetic mapping with its files made absolute and `edit` applied: a site mapping in another folder. */
function writeMapping(name: string, edit: (m: Record<string, any>) => void): string {
  const src = path.join(projectRoot, 'mappings/synthetic.json');
  const m = JSON.parse(readFileSync(src, 'utf8')) as Record<string, any>;
  const abs = (p: string) => path.resolve(path.dirname(src), p);
  // Every file a source names (concept maps, the rxnorm source's tables) is relative to the mapping.
  for (const s of m.medications.sources) for (const [k, v] of Object.entries(s)) if (typeof v === 'string' && /\.(csv|json|gz)$/.test(v)) s[k] = abs(v);
  if (m.labels?.file) m.labels.file = abs(m.labels.file);
  if (m.interactions?.file) m.interactions.file = abs(m.interactions.file);
  for (const [key, value] of Object.entries(m)) if (value && typeof value === 'object' && typeof (value as { file?: unknown }).file === 'string' && !path.isAbsolute((value as { file: string }).file)) (value as { file: string }).file = abs((value as { file: string }).file);
  edit(m);
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(m));
  return file;
}

function serveEnv(mapping: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PORT: '0', HOST: '127.0.0.1', LEADER_CDS_MODEL_DIR: demoModel, LEADER_CDS_MAPPING: mapping, LEADER_CDS_FEEDBACK_DB: path.join(dir, `fb-${Math.random()}.sqlite`), LEADER_CDS_LOG_LEVEL: 'info', ...extra };
}

describe('model and mapping at start', () => {
  it('the check: the demo model matches the synthetic mapping; another namespace or label space does not', async () => {
    const manifest = JSON.parse(readFileSync(path.join(demoModel, 'manifest.json'), 'utf8'));
    const same = await loadMapping(path.join(projectRoot, 'mappings/synthetic.json'));
    assert.deepEqual(checkModelMapping(manifest, same).mismatches, []);
    assert.deepEqual(checkModelMapping({ ...manifest, mappingFingerprint: mappingFingerprint(same.config) }, same).mismatches, []);
    const other = await loadMapping(writeMapping('icd10-namespace', (m) => (m.diagnoses.systems[0].namespace = 'icd10')));
    const problems = checkModelMapping({ ...manifest, mappingFingerprint: mappingFingerprint(same.config) }, other).mismatches;
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems.join('\n'), /trained with mapping 'synthetic' \(sha256:[0-9a-f]{16}\).*'synthetic' \(sha256:/);
    assert.match(problems.join('\n'), /namespaces icd10cm \(119 codes\).*it has: icd10/);
    const space = await loadMapping(writeMapping('atc4', (m) => (m.medications.labelSpace = 'atc4')));
    assert.match(checkModelMapping(manifest, space).mismatches.join('\n'), /label space 'atc3'.*'atc4'/);
  });

  it('serve exits 2 on a model trained with another mapping, naming both', () => {
    const mapping = writeMapping('mismatch', (m) => (m.diagnoses.systems[0].namespace = 'icd10'));
    const run = spawnSync(process.execPath, [cli, 'serve'], { env: serveEnv(mapping), encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /cannot serve: the model and the mapping do not match/);
    assert.match(run.stderr, /demo-synthetic-3000-s7-seed42/);
  });

  it('serve exits 2 on a broken mapping, naming the file and field', () => {
    const mapping = writeMapping('broken', (m) => (m.medications.sources[0].fromColumn = ''));
    const run = spawnSync(process.execPath, [cli, 'serve'], { env: serveEnv(mapping), encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /broken\.json/);
    assert.match(run.stderr, /fromColumn/);
  });

  it('forced, a mismatched pair is served, logged at error level and counted', async () => {
    const mapping = writeMapping('forced', (m) => (m.diagnoses.systems[0].namespace = 'icd10'));
    const child = spawn(process.execPath, [cli, 'serve'], { env: serveEnv(mapping, { LEADER_CDS_ALLOW_MAPPING_MISMATCH: 'true' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const port = /"port":(\d+)/.exec(out)?.[1];
          if (port && /"msg":"ready"/.test(out)) resolve(`http://127.0.0.1:${port}`);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
      });
      assert.match(out, /SERVING A MODEL TRAINED ON ANOTHER MAPPING/);
      assert.match(out, /"level":50/);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /leader_cds_model_mapping_mismatch_forced_total\{model="demo-synthetic-3000-s7-seed42"\} 1/);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('service definitions: one loader, checked at start', () => {
  it('a prefetch template the handlers do not read, or an unknown mode, fails at load naming the file', async () => {
    const { loadServiceDefinitions } = await import('../../src/service/definitions.ts');
    const defs = path.join(dir, 'defs');
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(defs, { recursive: true });
    for (const f of ['order-select.json', 'order-sign.json']) copyFileSync(path.join(projectRoot, 'cds-hooks', f), path.join(defs, f));
    assert.deepEqual(loadServiceDefinitions(defs).map((d) => d.mode), ['live', 'live']);
    const file = path.join(defs, 'order-select.json');
    const def = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...def, mode: 'shadow' }));
    assert.deepEqual(loadServiceDefinitions(defs).map((d) => d.mode), ['shadow', 'live']);
    writeFileSync(file, JSON.stringify({ ...def, mode: 'silent' }));
    assert.throws(() => loadServiceDefinitions(defs), /order-select\.json: mode/);
    writeFileSync(file, JSON.stringify({ ...def, prefetch: { ...def.prefetch, conditions: 'Condition?patient={{context.patientId}}&clinical-status=active' } }));
    assert.throws(() => loadServiceDefinitions(defs), /order-select\.json: prefetch 'conditions' is .*the handlers expect/);
    writeFileSync(file, JSON.stringify({ ...def, prefetch: { ...def.prefetch, labs: 'Observation?patient={{context.patientId}}' } }));
    assert.throws(() => loadServiceDefinitions(defs), /prefetch key 'labs' is not one the handlers read/);
  });
});
