// `leader-cds train` and `leader-cds recommend` end to end on a tiny synthetic cohort, and their bad inputs.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { THRESHOLD_GRID } from '../../src/eval/threshold.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mapping = path.join(root, 'mappings', 'synthetic.json');

// In-process: spawning the CLI per case costs a tsx start-up each time.
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [o, e] = [process.stdout.write, process.stderr.write];
  // The CLI writes strings; the test runner's own protocol messages are binary and must pass through.
  const write = (sink: string[], original: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
      sink.push(chunk);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = write(out, o, process.stdout);
  process.stderr.write = write(err, e, process.stderr);
  try {
    const code = await main(['node', 'leader-cds', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

let tmp: string;
let cohort: string;
let dataset: string;
let model: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'leader-cli-model-'));
  cohort = path.join(tmp, 'cohort');
  dataset = path.join(tmp, 'ds.jsonl');
  model = path.join(tmp, 'model');
  assert.equal((await cli('synth', '--patients', '40', '--seed', '3', '--out', cohort)).code, 0);
  const built = await cli('dataset', 'build', '--mapping', mapping, '--input', cohort, '--out', dataset);
  assert.equal(built.code, 0, built.stderr);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('train writes a model directory with held-out metrics and label names from the mapping (with the wide term)', async () => {
  // --wide linear here, so that the recommend tests below also serve a wide model.
  const r = await cli('train', '--dataset', dataset, '--mapping', mapping, '--out', model, '--dim', '8', '--epochs', '2', '--batch-size', '16', '--wide', 'linear', '--wide-learning-rate', '0.02', '--backend', 'wasm', '--quiet', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { metrics: { validation: { samples: number }; test: { samples: number } }; training: { epochs: number } };
  assert.ok(out.metrics.test.samples > 0);
  assert.equal(out.training.epochs, 2);
  // The manifest's default threshold is the grid cut with the best validation Jaccard.
  const manifest = JSON.parse(await readFile(path.join(model, 'manifest.json'), 'utf8')) as { thresholds: { default: number }; config: { wide: string } };
  assert.ok(THRESHOLD_GRID.includes(manifest.thresholds.default), `threshold ${manifest.thresholds.default}`);
  assert.equal(manifest.config.wide, 'linear');
});

test('recommend ranks labels for every patient of a bulk folder, and for one patient Bundle', async () => {
  const r = await cli('recommend', '--model', model, '--input', cohort, '--mapping', mapping, '--top', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { results: Array<{ status: string; recommendations?: Array<{ label: string; probability: number; name?: string }> }> };
  assert.equal(out.results.length, 40);
  const ok = out.results.filter((x) => x.status === 'ok');
  assert.ok(ok.length > 30);
  for (const x of ok) {
    assert.equal(x.recommendations!.length, 3);
    assert.ok(x.recommendations![0]!.probability >= x.recommendations![1]!.probability);
  }
  assert.ok(ok.some((x) => x.recommendations!.some((y) => y.name)), 'label names come from the mapping catalog');

  // One patient's resources as a Bundle, as an EHR would send them.
  const patientFile = (await readdir(cohort)).find((f) => f.startsWith('Patient'))!;
  const patient = JSON.parse((await readFile(path.join(cohort, patientFile), 'utf8')).split('\n')[0]!) as { id: string };
  const entries: unknown[] = [];
  for (const f of await readdir(cohort)) {
    if (!f.endsWith('.ndjson')) continue;
    for (const line of (await readFile(path.join(cohort, f), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      const res = JSON.parse(line) as { resourceType: string; id: string; subject?: { reference?: string } };
      if (res.resourceType === 'Medication' || (res.resourceType === 'Patient' && res.id === patient.id) || res.subject?.reference === `Patient/${patient.id}`)
        entries.push({ resource: res });
    }
  }
  const bundle = path.join(tmp, 'patient.json');
  await writeFile(bundle, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: entries }));
  const b = await cli('recommend', '--model', model, '--input', bundle, '--mapping', mapping, '--top', '5');
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, new RegExp(`patient ${patient.id}`));
  assert.match(b.stdout, /^\s+1\. \S+\s+0\.\d{3}/m);
});

test('recommend on a dataset file needs no mapping; an unknown encounter is an error', async () => {
  const r = await cli('recommend', '--model', model, '--input', dataset, '--top', '2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /patient \S+ encounter \S+/);
  const missing = await cli('recommend', '--model', model, '--input', dataset, '--encounter', 'no-such-encounter');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no patient with encounter no-such-encounter/);
});

test('a patient with no known code and an empty history gets "no recommendation"', async () => {
  const bundle = path.join(tmp, 'stranger.json');
  await writeFile(
    bundle,
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Patient', id: 'stranger', gender: 'female', birthDate: '1970-01-01' } },
        { resource: { resourceType: 'Encounter', id: 'enc1', status: 'in-progress', class: { code: 'AMB' }, subject: { reference: 'Patient/stranger' }, period: { start: '2025-01-01T10:00:00Z' } } },
        {
          resource: {
            resourceType: 'Condition',
            id: 'c1',
            subject: { reference: 'Patient/stranger' },
            encounter: { reference: 'Encounter/enc1' },
            code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'Z99.89' }] },
          },
        },
      ],
    }),
  );
  const r = await cli('recommend', '--model', model, '--input', bundle, '--mapping', mapping);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no recommendation: no diagnosis, procedure or medication-history code/);
  const empty = path.join(tmp, 'no-encounter.json');
  await writeFile(empty, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'lonely' } }] }));
  const e = await cli('recommend', '--model', model, '--input', empty, '--mapping', mapping);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /no recommendation: the patient has no encounter/);
});

test('bad inputs: clear messages and non-zero exits', async () => {
  const broken = path.join(tmp, 'broken-model');
  await mkdir(broken);
  let r = await cli('recommend', '--model', broken, '--input', dataset);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no manifest\.json/);
  r = await cli('recommend', '--model', model, '--input', path.join(tmp, 'nope.json'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--input .*nope\.json: not found/);
  const notBundle = path.join(tmp, 'patient-only.json');
  await writeFile(notBundle, JSON.stringify({ resourceType: 'Patient', id: 'x' }));
  r = await cli('recommend', '--model', model, '--input', notBundle, '--mapping', mapping);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /expected a FHIR Bundle, got resourceType Patient/);
  r = await cli('recommend', '--model', model, '--input', notBundle);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--mapping <file> is needed/);
  r = await cli('train', '--dataset', dataset, '--out', path.join(tmp, 'x'), '--alpha', '0.4');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /needs --teacher-features/);
  r = await cli('train', '--dataset', dataset, '--out', path.join(tmp, 'x'), '--epochs', 'many');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--epochs must be an integer, got 'many'/);
  r = await cli('train', '--dataset', dataset, '--out', path.join(tmp, 'x'), '--wide', 'deep');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--wide must be one of none, linear, hidden, got 'deep'/);
  r = await cli('train', '--dataset', dataset, '--out', path.join(tmp, 'x'), '--wide-learning-rate', '0.02');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--wide-learning-rate needs --wide linear or hidden/);
  r = await cli('train', '--dataset', dataset, '--out', path.join(tmp, 'x'), '--wide-l2', '1e-5');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--wide-l2 needs --wide linear or hidden/);
  const badDataset = path.join(tmp, 'bad.jsonl');
  await writeFile(badDataset, '{"type":"header","format":"leader-dataset","version":1,"mapping":"m","labelSpace":"l","createdAt":"2025-01-01T00:00:00Z"}\nnot json\n');
  r = await cli('train', '--dataset', badDataset, '--out', path.join(tmp, 'x'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.jsonl:2: not JSON/);
});
