// A cli-progress bar on stderr that follows a bulk read's progress events (silent when stderr is not a terminal).
import cliProgress from 'cli-progress';
import type { BulkProgress } from './bulk-reader.ts';

export function bulkProgressBar(label: string): { onProgress: (event: BulkProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {file} | {lines} lines | {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let lines = 0;
  let fileLines = 0;
  return {
    onProgress(event) {
      if (event.type === 'start') {
        bar.start(Math.max(1, event.totalBytes), 0, { file: '', lines: 0 });
        started = true;
      } else if (event.type === 'file-start') {
        fileLines = 0;
        bar.update({ file: event.file });
      } else if (event.type === 'progress') {
        lines += event.lines - fileLines;
        fileLines = event.lines;
        bar.update(event.totalBytesRead, { file: event.file, lines });
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
