// Turns retraining events into lines on stderr (and a progress bar per stage on a terminal).
import { SingleBar, Presets } from 'cli-progress';
import type { RetrainEvent } from './run.ts';

export function retrainReporter(stream: NodeJS.WriteStream = process.stderr): { onEvent: (e: RetrainEvent) => void; stop: () => void } {
  let bar: SingleBar | undefined;
  const tty = stream.isTTY === true;
  const fractions = new Map<string, number>();
  let current = '';
  const line = (text: string) => {
    bar?.stop();
    bar = undefined;
    stream.write(`${text}\n`);
  };
  const onEvent = (e: RetrainEvent) => {
    switch (e.type) {
      case 'stage-start':
        line(`▶ ${e.stage}${e.tasks > 1 ? ` (${e.tasks} tasks)` : ''}`);
        current = e.stage;
        fractions.clear();
        if (tty) {
          bar = new SingleBar({ format: `  ${e.stage} |{bar}| {percentage}% {message}`, stream }, Presets.shades_classic);
          bar.start(100, 0, { message: '' });
        }
        break;
      case 'task-progress': {
        if (e.stage !== current) break;
        fractions.set(e.key, e.fraction);
        const mean = [...fractions.values()].reduce((a, b) => a + b, 0) / Math.max(1, fractions.size);
        if (bar) bar.update(Math.round(mean * 100), { message: e.message ?? '' });
        break;
      }
      case 'stage-end':
        line(`✔ ${e.stage} in ${e.seconds.toFixed(1)} s`);
        break;
      case 'stage-skip':
        line(`↷ ${e.stage}: already done (${e.key.slice(0, 12)})`);
        break;
      case 'message':
        line(e.text);
        break;
      case 'run-end':
        line(`plan finished in ${e.seconds.toFixed(1)} s`);
        break;
      case 'registered':
        line(`registered candidate ${e.version}`);
        break;
      case 'gate':
        line(`promotion gate: ${e.decision.passed ? 'passed' : 'FAILED'}\n  ${e.decision.reasons.join('\n  ')}`);
        break;
      case 'promoted':
        line(`promoted ${e.to} (was ${e.from ?? 'nothing'})`);
        break;
      case 'not-promoted':
        line(`not promoted: ${e.reason}`);
        break;
    }
  };
  return { onEvent, stop: () => bar?.stop() };
}
