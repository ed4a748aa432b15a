// Which server routes a viewer page reads (docs/VIEWER.md §1):
//   /ui/ci/<project>/<build>/<stage>/<step>  the CI routes of that step
//   /ui/stream?accountID=&key=               the Harness routes of that key
// Pure logic.

/** Where a step's data lives: the CI routes, or the Harness routes for an account and key. */
export interface StepAddress {
  title: string;
  stream: string;
  raw: string;
  zip?: string;
  filename: string;
}

export function stepAddress(path: string, query: URLSearchParams): StepAddress | undefined {
  const ci = /^\/ui\/ci\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(path);
  if (ci !== null) {
    const parts = ci.slice(1, 5) as [string, string, string, string];
    const base = `/ci/${parts.join('/')}`;
    const names = parts.map(decodeURIComponent);
    return {
      title: names.join(' / '),
      stream: `${base}/stream`,
      raw: `${base}/raw`,
      zip: `/ci/${parts[0]}/${parts[1]}/logs.zip`,
      filename: names.join('-'),
    };
  }
  if (/^\/ui\/stream\/?$/.test(path) && query.has('key')) {
    const q = new URLSearchParams({ accountID: query.get('accountID') ?? '', key: query.get('key')! });
    return {
      title: query.get('key')!,
      stream: `/stream?${q.toString()}`,
      raw: `/stream/raw?${q.toString()}`,
      filename: query.get('key')!.replace(/[^A-Za-z0-9._-]+/g, '-'),
    };
  }
  return undefined;
}
