// The "now" rule on its own (src/history/now.ts), and the serving record built by the training record's code.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isActiveProblem, isInProgress, placeNow } from '../../src/history/now.ts';
import type { EncounterRecord, PatientHistory, ProblemEntry } from '../../src/history/types.ts';

const AT = new Date('2026-12-03T12:00:00Z');
const enc = (id: string, start: string, extra: Partial<EncounterRecord> = {}): EncounterRecord => ({ id, start, diagnoses: [], procedures: [], medications: [], ...extra });
const problem = (token: string, extra: Partial<ProblemEntry> = {}): ProblemEntry => ({ token, concept: { system: 's', code: token }, source: `Condition/${token}`, ...extra });

describe('now rule', () => {
  test('in progress: an in-progress status, or no status with a start and no end; never a future or finished one', () => {
    const at = AT.getTime();
    for (const status of ['in-progress', 'arrived', 'triaged', 'onleave']) assert.ok(isInProgress(enc('e', '2026-12-01', { status }), at), status);
    for (const status of ['finished', 'cancelled', 'planned', 'unknown']) assert.ok(!isInProgress(enc('e', '2026-12-01', { status }), at), status);
    assert.ok(isInProgress(enc('e', '2026-12-01'), at));
    assert.ok(!isInProgress(enc('e', '2026-12-01', { end: '2026-12-02' }), at));
    assert.ok(!isInProgress(enc('e', '2027-01-01', { status: 'in-progress' }), at), 'starts after now');
    assert.ok(!isInProgress(enc('e', 'not a date', { status: 'in-progress' }), at));
  });

  test('active problem: active/recurrence/relapse, not abated by now, onset not in the future; no status is not active', () => {
    const at = AT.getTime();
    assert.ok(isActiveProblem(problem('a', { clinicalStatus: 'active' }), at));
    assert.ok(isActiveProblem(problem('a', { clinicalStatus: 'relapse', abatement: '2027-01-01' }), at), 'abates later');
    assert.ok(!isActiveProblem(problem('a', { clinicalStatus: 'active', abatement: '2026-01-01' }), at));
    assert.ok(!isActiveProblem(problem('a', { clinicalStatus: 'active', abated: true }), at), 'abatementBoolean/String');
    assert.ok(!isActiveProblem(problem('a', { clinicalStatus: 'active', abatement: 'garbage' }), at), 'an unreadable abatement is not "still active"');
    assert.ok(!isActiveProblem(problem('a', { clinicalStatus: 'active', onset: '2027-05-01' }), at));
    for (const s of ['resolved', 'inactive', 'remission']) assert.ok(!isActiveProblem(problem('a', { clinicalStatus: s }), at), s);
    assert.ok(!isActiveProblem(problem('a'), at));
  });

  test('encounterId first, then the latest in-progress encounter, then active problems on a new empty encounter', () => {
    const history: PatientHistory = {
      patientId: 'p',
      profile: { categorical: {}, birthDate: '1950-12-04' },
      encounters: [
        enc('e1', '2020-01-01', { status: 'finished', diagnoses: [{ token: 'x', concept: { system: 's', code: 'x' } }] }),
        enc('e2', '2026-11-30', { status: 'in-progress', diagnoses: [{ token: 'y', concept: { system: 's', code: 'y' } }, { token: 'z', concept: { system: 's', code: 'z' }, clinicalStatus: 'resolved' }] }),
        enc('e3', '2030-01-01', { status: 'planned' }),
      ],
      problems: [problem('p1', { clinicalStatus: 'active' }), problem('y', { clinicalStatus: 'active' }), problem('gone', { clinicalStatus: 'resolved' })],
    };
    const ctxNow = placeNow(history, { encounterId: 'e1', at: AT });
    assert.equal(ctxNow.basis, 'context-encounter');
    assert.equal(ctxNow.encounterId, 'e1');
    assert.equal(ctxNow.index, 0);

    const inProgress = placeNow(history, { at: AT });
    assert.equal(inProgress.basis, 'in-progress-encounter');
    assert.equal(inProgress.encounterId, 'e2');
    assert.deepEqual(inProgress.history.encounters.map((e) => e.id), ['e1', 'e2'], 'later encounters are left out');
    // The encounter's diagnoses as training reads them, less the one resolved (no abatement date: ended).
    assert.deepEqual(inProgress.current.map((d) => d.token), ['y']);

    const none = placeNow({ ...history, encounters: history.encounters.filter((e) => e.id !== 'e2') }, { at: AT });
    assert.equal(none.basis, 'active-problems');
    assert.equal(none.encounterId, undefined);
    assert.deepEqual(none.current.map((d) => d.token), ['p1', 'y']);
    const current = none.history.encounters[none.index]!;
    assert.equal(current.id, 'now');
    assert.equal(current.ageYears, 75, 'age at the call, from the birth date');
    assert.deepEqual(none.history.encounters.map((e) => e.id), ['e1', 'now'], 'the planned 2030 encounter is not history');
    assert.match(none.description, /no encounter in progress; 2 active problems as of 2026-12-03/);

    const unseen = placeNow(history, { encounterId: 'e-new', at: AT });
    assert.equal(unseen.basis, 'context-encounter-unseen');
    assert.equal(unseen.encounterId, 'e-new');
    assert.equal(unseen.history.encounters.at(-1)!.id, 'e-new');
  });
});
