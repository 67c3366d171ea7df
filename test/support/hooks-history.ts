// The hook tests' history port: the real FHIR bundle reader and serving record builder (as src/service/wiring.ts
// binds them), so the tests exercise the same path as the service.
import { historyFromResources } from '../../src/fhir/bundle-reader.ts';
import { recordForEncounter } from '../../src/dataset/records.ts';
import type { HistoryBuilder } from '../../src/service/hooks/ports.ts';

export const fixtureHistory: HistoryBuilder = {
  historyFromResources(resources, mapping, patientId) {
    const read = historyFromResources(resources, mapping, patientId, undefined, { keepProblems: true });
    return { history: read.history, issues: read.issues };
  },
  recordForEncounter,
};
