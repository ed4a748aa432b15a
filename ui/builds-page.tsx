// The builds page (docs/VIEWER.md §1): the open streams of the account,
// grouped project → build → stage → step, refreshed every two seconds;
// streams that were open and are gone since are shown as closed. A search box
// filters the keys and jumps to one; a form opens a Harness key, or lists a
// Harness account's streams (`/ui/?accountID=`, from `/stream/info`).
import { useEffect, useState } from 'preact/hooks';
import { AuthError, getJson, reportAuth, tokenVersion } from './api.ts';
import { TopBar } from './top-bar.tsx';

interface StreamEntry {
  size: number;
  held?: number;
  subscribers: number;
  ttl: string;
}

interface Listed extends StreamEntry {
  open: boolean;
}

const REFRESH_MS = 2000;

/** Where the list comes from and where its keys lead: the CI routes, or a Harness account's. */
function listing(accountID: string | null): { source: string; href(key: string): string; title: string } {
  if (accountID === null || accountID === '') {
    return { source: '/ci/streams', href: (key) => `/ui/ci/${key.split('/').map(encodeURIComponent).join('/')}`, title: 'Builds' };
  }
  return {
    source: `/stream/info?${new URLSearchParams({ accountID }).toString()}`,
    href: (key) => `/ui/stream?${new URLSearchParams({ accountID, key }).toString()}`,
    title: `Streams of account ${accountID}`,
  };
}

export function BuildsPage() {
  const accountID = new URLSearchParams(location.search).get('accountID');
  const list = listing(accountID);
  const [streams, setStreams] = useState<Map<string, Listed>>(new Map());
  const [error, setError] = useState<string | undefined>(undefined);
  const [filter, setFilter] = useState('');
  const [account, setAccount] = useState(accountID ?? '');
  const [harnessKey, setHarnessKey] = useState('');

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    async function refresh() {
      try {
        const body = await getJson<{ streams: Record<string, StreamEntry> }>(list.source);
        if (stopped) return;
        setStreams((old) => {
          const next = new Map<string, Listed>();
          for (const [key, entry] of old) if (!(key in body.streams)) next.set(key, { ...entry, open: false });
          for (const [key, entry] of Object.entries(body.streams)) next.set(key, { ...entry, open: true });
          return next;
        });
        setError(undefined);
      } catch (err) {
        if (err instanceof AuthError) {
          reportAuth(err);
          return; // a new token restarts this effect
        }
        setError((err as Error).message);
      }
      if (!stopped) timer = setTimeout(() => void refresh(), REFRESH_MS);
    }
    void refresh();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [tokenVersion.value]);

  const keys = [...streams.keys()].filter((key) => key.includes(filter)).sort();
  const tree = groupKeys(keys);
  return (
    <>
      <TopBar title={list.title} />
      <nav class="tools" aria-label="find a step">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            const key = filter.replace(/^\/+|\/+$/g, '');
            if (accountID !== null || key.split('/').length === 4) location.assign(list.href(key));
          }}
        >
          <input
            type="search"
            placeholder={accountID === null ? 'project/build/stage/step' : 'key'}
            aria-label="filter or open a key"
            value={filter}
            data-testid="key-search"
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
        </form>
        <form
          class="harness"
          onSubmit={(e) => {
            e.preventDefault();
            if (account === '') return;
            // A key opens its log; an account alone lists its streams.
            location.assign(harnessKey !== '' ? listing(account).href(harnessKey) : `/ui/?${new URLSearchParams({ accountID: account }).toString()}`);
          }}
        >
          <input placeholder="accountID" aria-label="Harness account ID" value={account} onInput={(e) => setAccount(e.currentTarget.value)} />
          <input
            placeholder="key (empty: list the account)"
            aria-label="Harness key"
            value={harnessKey}
            onInput={(e) => setHarnessKey(e.currentTarget.value)}
          />
          <button type="submit">open</button>
        </form>
      </nav>
      <main class="main builds">
        {error !== undefined && <p role="alert">{error}</p>}
        {keys.length === 0 && error === undefined && <p class="empty">No open streams{filter !== '' ? ' match' : ''}.</p>}
        {[...tree].map(([project, builds]) => (
          <section key={project} aria-label={`project ${project}`}>
            <h2>{project}</h2>
            {[...builds].map(([build, steps]) => (
              <details key={build} open>
                <summary>build {build}</summary>
                {[...byStage(steps)].map(([stage, keys]) => (
                  <ul key={stage} aria-label={stage === '' ? `build ${build}` : `stage ${stage}`}>
                    {stage !== '' && <li class="stage">{stage}</li>}
                    {keys.map((key) => {
                      const entry = streams.get(key)!;
                      const name =
                        key
                          .split('/')
                          .slice(stage === '' ? 2 : 3)
                          .join(' / ') || key;
                      return (
                        <li key={key} data-testid="build-step" class={stage === '' ? undefined : 'step'}>
                          <a href={list.href(key)}>{name}</a>{' '}
                          <span class={entry.open ? 'state state-live' : 'state state-finished'}>{entry.open ? 'live' : 'closed'}</span>{' '}
                          <span class="size">{entry.size.toLocaleString('en')} lines</span>
                        </li>
                      );
                    })}
                  </ul>
                ))}
              </details>
            ))}
          </section>
        ))}
      </main>
    </>
  );
}

/** A build's keys by stage (the third segment); keys with no step after it go under ''. */
function byStage(keys: string[]): Map<string, string[]> {
  const stages = new Map<string, string[]>();
  for (const key of keys) {
    const parts = key.split('/');
    const stage = parts.length >= 4 ? parts[2]! : '';
    const inStage = stages.get(stage);
    if (inStage === undefined) stages.set(stage, [key]);
    else inStage.push(key);
  }
  return stages;
}

/** project → build → keys (keys of other shapes go under their first segments). */
function groupKeys(keys: string[]): Map<string, Map<string, string[]>> {
  const tree = new Map<string, Map<string, string[]>>();
  for (const key of keys) {
    const [project = '', build = ''] = key.split('/');
    const builds = tree.get(project) ?? new Map<string, string[]>();
    tree.set(project, builds);
    const steps = builds.get(build) ?? [];
    builds.set(build, steps);
    steps.push(key);
  }
  return tree;
}
