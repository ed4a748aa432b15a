// A line as the service frames it for SSE (stream/line-codec.ts encodeLine, for
// a line with only `out`): what the bare baselines send their viewers, so that
// they write the same bytes as the service.

/** `id: N\ndata: {"level":"info","pos":N,"out":…,"time":…}\n\n`; `timeJson` is the time already quoted. */
export function sseLineEvent(seq: number, out: string, timeJson: string): string {
  return `id: ${seq}\ndata: {"level":"info","pos":${seq},"out":${JSON.stringify(out)},"time":${timeJson}}\n\n`;
}
