// Prometheus metrics (text exposition format 0.0.4), kept by hand: a few
// counters and gauges do not need a client library.

import type { StreamMemoryUsage } from '../stream/log-stream.ts';

export class Metrics {
  readonly requests = new Map<string, number>();
  linesPushed = 0;
  pushRequests = 0;
  blobUploads = 0;
  blobBytesUploaded = 0;
  /** The stream backend's memory, when it keeps lines in this process (set by the wiring). */
  streamMemory: () => StreamMemoryUsage | undefined = () => undefined;

  countRequest(method: string, status: number): void {
    const key = `method="${method}",code="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  render(tailsOpen: number): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels ? `{${labels}}` : ''} ${value}`);
    };
    metric(
      'logsvc_http_requests_total',
      'counter',
      'HTTP requests answered, by method and status.',
      [...this.requests].sort(([a], [b]) => a.localeCompare(b)),
    );
    metric('logsvc_lines_pushed_total', 'counter', 'Log lines accepted by pushes.', [['', this.linesPushed]]);
    metric('logsvc_push_requests_total', 'counter', 'Push requests accepted.', [['', this.pushRequests]]);
    metric('logsvc_blob_uploads_total', 'counter', 'Blob uploads stored.', [['', this.blobUploads]]);
    metric('logsvc_blob_uploaded_bytes_total', 'counter', 'Bytes of stored blob uploads.', [['', this.blobBytesUploaded]]);
    metric('logsvc_tails_open', 'gauge', 'Open tail (SSE) connections on this instance.', [['', tailsOpen]]);
    const streams = this.streamMemory();
    if (streams !== undefined) {
      metric('logsvc_stream_memory_bytes', 'gauge', 'Bytes of log lines held in memory across every stream.', [['', streams.bytes]]);
      if (Number.isFinite(streams.budgetBytes)) {
        metric('logsvc_stream_memory_budget_bytes', 'gauge', 'The whole-process budget for them (LOG_SERVICE_STREAM_MEMORY_BYTES).', [
          ['', streams.budgetBytes],
        ]);
      }
      metric('logsvc_stream_memory_trimmed_lines_total', 'counter', 'Lines trimmed early to keep within the budget (viewers see them as dropped).', [
        ['', streams.trimmedLines],
      ]);
    }
    const mem = process.memoryUsage();
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [['', mem.rss]]);
    metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, in bytes.', [['', mem.heapUsed]]);
    metric('process_uptime_seconds', 'gauge', 'Seconds since the process started.', [['', Math.round(process.uptime())]]);
    return `${lines.join('\n')}\n`;
  }
}
