// The ONNX student as the handlers' model port: a call that gave up while waiting for the session costs no model time.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DatasetRecord } from '../../src/dataset/types.ts';
import { loadMapping } from '../../src/mapping/load.ts';
import { StudentRuntime } from '../../src/model/runtime/session.ts';
import { projectRoot } from '../../src/service/config.ts';
import type { MedicationModel } from '../../src/service/hooks/ports.ts';
import { modelPort } from '../../src/service/wiring.ts';
import { CodeMap } from '../../src/model/runtime/code-map.ts';

const dir = path.join(projectRoot, 'models/demo');
const skip = existsSync(path.join(dir, 'manifest.json')) ? false : 'models/demo is absent (npm run demo-model builds it)';

describe('model port', { skip }, () => {
  let runtime: StudentRuntime;
  let port: MedicationModel;
  const runs: number[] = [];
  let record: DatasetRecord;
  before(async () => {
    runtime = await StudentRuntime.load(dir, { provider: 'cpu', threads: 1 });
    port = modelPort(runtime, await loadMapping(path.join(projectRoot, 'mappings/synthetic.json')), (_v, seconds) => runs.push(seconds));
    const token = runtime.manifest.vocabularies.diagnoses[0]!;
    record = { patientId: 'p', encounterId: 'e', visitIndex: 0, patientVisits: 1, start: '2024-01-01T00:00:00Z', profile: {}, history: [], diagnoses: [token], procedures: [], labels: [] };
  });
  after(() => runtime.close());

  it('scores a record, and refuses at once for a call already abandoned, without running the model', async () => {
    const [scores] = await port.predict([record]);
    assert.equal(scores!.length, runtime.labels.length);
    assert.equal(runs.length, 1);
    const controller = new AbortController();
    controller.abort(new Error('budget spent'));
    await assert.rejects(port.predict([record], controller.signal), /budget spent/);
    assert.equal(runs.length, 1);
  });

  it('scoreRecord answers what predict does for the record, and no substitutions without a code map', async () => {
    const [scores] = await port.predict([record]);
    const scored = await port.scoreRecord!(record);
    assert.deepEqual(scored.probabilities, scores);
    assert.deepEqual(scored.substitutions, []);
  });

  it('scoreRecord reports the code map\'s substitutions with both names; predict scores the unseen code as its neighbour', async () => {
    const v = runtime.manifest.vocabularies;
    const map = CodeMap.validate(
      {
        format: 'leader-code-map',
        version: 1,
        modelVersion: runtime.manifest.modelVersion,
        embedder: 'test',
        minSimilarity: 0.5,
        createdAt: '2026-01-01T00:00:00Z',
        entries: [{ kind: 'diagnosis', from: 'icd10cm:I119', fromName: 'Hypertensive heart disease', to: v.diagnoses[0]!, toName: 'the known one', similarity: 0.7 }],
      },
      { modelVersion: runtime.manifest.modelVersion, diagnoses: v.diagnoses, procedures: v.procedures },
      'test map',
    );
    const mapped = await StudentRuntime.load(dir, { provider: 'cpu', threads: 1, codeMap: map });
    try {
      const mappedPort = modelPort(mapped, await loadMapping(path.join(projectRoot, 'mappings/synthetic.json')), () => undefined);
      const unseen = { ...record, diagnoses: ['icd10cm:I119'] };
      const scored = await mappedPort.scoreRecord!(unseen);
      assert.deepEqual(scored.substitutions, [
        { kind: 'diagnosis', encounter: 'current', from: 'icd10cm:I119', fromName: 'Hypertensive heart disease', to: v.diagnoses[0]!, toName: 'the known one' },
      ]);
      const [known] = await port.predict([record]);
      assert.deepEqual(scored.probabilities, known);
      assert.deepEqual((await mappedPort.predict([unseen]))[0], known);
    } finally {
      await mapped.close();
    }
  });

  it('drops a call abandoned while it waited behind another, and still answers the ones after it', async () => {
    const before = runs.length;
    const controller = new AbortController();
    const big = port.predict(Array.from({ length: 64 }, () => record));
    const waiting = port.predict([record], controller.signal);
    const next = port.predict([record]);
    controller.abort(new Error('client gone'));
    await assert.rejects(waiting, /client gone/);
    assert.equal((await big).length, 64);
    assert.equal((await next).length, 1);
    assert.equal(runs.length - before, 2, 'the abandoned call never reached the session');
  });
});
