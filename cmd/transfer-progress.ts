// A progress bar for uploads and downloads, on stderr and only when stderr is
// a terminal: a CI log or a pipe gets no control characters, and stdout stays
// the data.
import cliProgress from 'cli-progress';
import type { TransferProgress } from '../client/index.ts';

export interface ProgressReporter {
  onProgress(progress: TransferProgress): void;
  stop(): void;
}

const NONE: ProgressReporter = { onProgress: () => undefined, stop: () => undefined };

export function transferProgress(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (stream.isTTY !== true) return NONE;
  let bar: cliProgress.SingleBar | undefined;
  let known: number | undefined;
  return {
    onProgress({ transferred, total }) {
      if (bar === undefined) {
        known = total;
        bar = new cliProgress.SingleBar({
          stream,
          hideCursor: true,
          fps: 10,
          format: (options, params) => {
            const seconds = Math.max((Date.now() - params.startTime) / 1000, 0.001);
            const rate = `${formatBytes(params.value / seconds)}/s`;
            if (known === undefined) return `${label} ${formatBytes(params.value)} ${rate}`;
            const width = options.barsize ?? 30;
            const filled = Math.round(width * Math.min(params.progress, 1));
            const barText = '█'.repeat(filled) + '░'.repeat(width - filled);
            return `${label} ${barText} ${Math.floor(params.progress * 100)}% ${formatBytes(params.value)}/${formatBytes(params.total)} ${rate}`;
          },
        });
        bar.start(total ?? 0, 0);
      }
      bar.update(transferred);
    },
    stop() {
      bar?.stop();
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
