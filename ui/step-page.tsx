// The step log page (docs/VIEWER.md §2–§5): the tail, the toolbar (find,
// levels, timestamps, wrap, follow, copy, downloads), permalinks and the
// keyboard. The log itself is LogModel (data) and LogView (rows on screen).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { AuthError, download, reportAuth, tokenVersion } from './api.ts';
import type { StepAddress } from './addresses.ts';
import { LogModel } from './log-model.ts';
import { compileQuery, LogSearch, SearchError } from './log-search.ts';
import { LogTail, type TailState } from './log-tail.ts';
import { LogView, type TimeMode } from './log-view.tsx';
import { parseHash } from './permalink.ts';
import { plainText } from './plain-text.ts';
import { TopBar } from './top-bar.tsx';

/** Renders at most this often while a large log loads (virtual-core lays out every row on a count change). */
function renderDelay(rows: number): number {
  return rows < 100_000 ? 0 : rows < 500_000 ? 100 : 250;
}

const STATE_TEXT: Record<TailState, string> = {
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  finished: 'finished',
  'not-found': 'not found',
  auth: 'token needed',
  error: 'error',
};

export function StepPage({ address }: { address: StepAddress }) {
  const model = useMemo(() => new LogModel(), [address.stream]);
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<TailState>('connecting');
  const [stateDetail, setStateDetail] = useState<string | undefined>(undefined);
  const [follow, setFollow] = useState(true);
  const [wrap, setWrap] = useState(false);
  const [timeMode, setTimeMode] = useState<TimeMode>('off');
  const [hiddenLevels, setHiddenLevels] = useState<ReadonlySet<number>>(new Set());
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());
  const [query, setQuery] = useState({ text: '', regex: false, caseSensitive: false });
  const [currentMatch, setCurrentMatch] = useState(-1);
  const [selection, setSelection] = useState(parseHash(location.hash));
  const anchorLine = useRef(selection?.from ?? 0);
  const [scrollTo, setScrollTo] = useState<{ index: number; align: 'start' | 'center' | 'end' } | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const pendingPermalink = useRef(selection !== undefined);
  const findInput = useRef<HTMLInputElement>(null);
  const searchRef = useRef<LogSearch | undefined>(undefined);
  const renderTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const lastRender = useRef(0);

  function scheduleRender() {
    if (renderTimer.current !== undefined) return;
    const wait = Math.max(0, lastRender.current + renderDelay(model.count) - performance.now());
    renderTimer.current = setTimeout(() => {
      requestAnimationFrame(() => {
        renderTimer.current = undefined;
        lastRender.current = performance.now();
        setVersion((v) => v + 1);
      });
    }, wait);
  }

  // The tail: one per page and token.
  useEffect(() => {
    const tail = new LogTail(address.stream, {
      lines(lines) {
        for (const line of lines) model.appendLine(line);
        scheduleRender();
      },
      dropped(from, to) {
        model.appendDropped(from, to);
        scheduleRender();
      },
      restart() {
        model.clear();
        searchRef.current?.reset();
        scheduleRender();
      },
      state(next, detail) {
        setState(next);
        setStateDetail(detail);
      },
      refused: reportAuth,
      lastSeq: () => model.lastSeq,
    });
    tail.start();
    return () => tail.close();
  }, [address.stream, tokenVersion.value]);

  // Filters: the model rebuilds its list of shown rows.
  useEffect(() => {
    model.setFilter({ hiddenLevels, collapsed });
    setVersion((v) => v + 1);
  }, [hiddenLevels, collapsed]);

  // Find: a new query starts a new search; it runs a slice per task, and goes on as rows arrive.
  const { search, queryError } = useMemo(() => {
    try {
      const pattern = compileQuery(query);
      return { search: pattern === undefined ? undefined : new LogSearch(model, pattern), queryError: undefined };
    } catch (err) {
      return { search: undefined, queryError: err instanceof SearchError ? err.message : String(err) };
    }
  }, [query, model]);
  useEffect(() => {
    searchRef.current = search;
    setCurrentMatch(-1);
  }, [search]);
  useEffect(() => {
    if (search === undefined || !search.pending) return;
    const timer = setTimeout(() => {
      search.step();
      setVersion((v) => v + 1);
    }, 0);
    return () => clearTimeout(timer);
  }, [search, version]);

  // Sections marked [collapsed=true] fold when they appear (the viewer may open them after).
  const sectionsSeen = useRef(0);
  useEffect(() => {
    const fresh = model.sections.slice(sectionsSeen.current).filter((s) => s.startsCollapsed);
    sectionsSeen.current = model.sections.length;
    if (fresh.length > 0) setCollapsed(new Set([...collapsed, ...fresh.map((s) => s.id)]));
  }, [version]);

  // A permalink: once its line is here, show it.
  useEffect(() => {
    if (!pendingPermalink.current || selection === undefined) return;
    const row = model.rowOfSeq(selection.from - 1);
    if (row >= model.count) return;
    pendingPermalink.current = false;
    setFollow(false);
    setScrollTo({ index: model.visibleIndexOf(row), align: 'center' });
  }, [version, selection]);
  useEffect(() => {
    const onHash = () => {
      setSelection(parseHash(location.hash));
      pendingPermalink.current = true;
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  function goToMatch(index: number) {
    if (search === undefined || search.kept === 0) return;
    const next = ((index % search.kept) + search.kept) % search.kept;
    setCurrentMatch(next);
    const row = search.matchRows[next]!;
    if (!model.isShown(row)) {
      // A match inside a collapsed section opens it; one on a hidden level shows that level.
      const open = new Set(collapsed);
      for (let s = model.sectionOf[row]!; s !== -1; s = model.sections[s]!.parent) open.delete(s);
      const levels = new Set(hiddenLevels);
      levels.delete(model.levels[row]!);
      setCollapsed(open);
      setHiddenLevels(levels);
      model.setFilter({ hiddenLevels: levels, collapsed: open });
    }
    setFollow(false);
    setScrollTo({ index: model.visibleIndexOf(row), align: 'center' });
  }

  function step(direction: 1 | -1) {
    if (search === undefined || search.kept === 0) return;
    if (currentMatch === -1) {
      const first = search.firstFrom(0);
      goToMatch(direction === 1 ? first : search.kept - 1);
    } else goToMatch(currentMatch + direction);
  }

  function onLineClick(line: number, extend: boolean) {
    // Shift-click extends from the line clicked first (the anchor), as in a list of files.
    const anchor = extend && selection !== undefined ? anchorLine.current : line;
    if (!extend || selection === undefined) anchorLine.current = line;
    const next = { from: Math.min(anchor, line), to: Math.max(anchor, line) };
    setSelection(next);
    history.replaceState(null, '', `#L${next.from}${next.to !== next.from ? `-L${next.to}` : ''}`);
  }

  async function copySelection() {
    if (selection === undefined) return;
    const lines: string[] = [];
    for (let row = model.rowOfSeq(selection.from - 1); row < model.count && model.seqs[row]! <= selection.to - 1; row++) {
      if (model.isText(row)) lines.push(plainText(model.texts[row]!));
    }
    try {
      await navigator.clipboard.writeText(`${lines.join('\n')}\n`);
      setNotice(`copied ${lines.length} line${lines.length === 1 ? '' : 's'}`);
    } catch {
      setNotice('the browser refused the clipboard');
    }
  }

  async function save(path: string, filename: string, upToNow = false) {
    try {
      await download(path, filename, upToNow);
    } catch (err) {
      if (err instanceof AuthError) reportAuth(err);
      else setNotice((err as Error).message);
    }
  }

  // Keyboard: / find, n/N next/previous, g/G top/end, f follow.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (target !== null && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
      if (event.key === '/') {
        event.preventDefault();
        findInput.current?.focus();
      } else if (event.key === 'n') step(1);
      else if (event.key === 'N') step(-1);
      else if (event.key === 'g') {
        setFollow(false);
        setScrollTo({ index: 0, align: 'start' });
      } else if (event.key === 'G') setFollow(true);
      else if (event.key === 'f') setFollow((f) => !f);
      else return;
      event.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  const levels = model.levelNames;
  return (
    <>
      <TopBar title={address.title}>
        <span class={`state state-${state}`} data-testid="state" title={stateDetail}>
          {STATE_TEXT[state]}
        </span>
        <span class="count" data-testid="line-count">
          {model.lines.toLocaleString('en')} lines
        </span>
      </TopBar>
      <nav class="tools" aria-label="log tools">
        <div class="find" role="search">
          <input
            ref={findInput}
            type="search"
            placeholder="Find (/)"
            aria-label="find in log"
            data-testid="find"
            value={query.text}
            onInput={(e) => setQuery({ ...query, text: e.currentTarget.value })}
            onKeyDown={(e) => {
              if (e.key === 'Enter') step(e.shiftKey ? -1 : 1);
              if (e.key === 'Escape') e.currentTarget.blur();
            }}
          />
          <button
            aria-pressed={query.caseSensitive}
            title="match case"
            onClick={() => setQuery({ ...query, caseSensitive: !query.caseSensitive })}
            data-testid="find-case"
          >
            Aa
          </button>
          <button aria-pressed={query.regex} title="regular expression" onClick={() => setQuery({ ...query, regex: !query.regex })} data-testid="find-regex">
            .*
          </button>
          <span class="matches" data-testid="match-count" aria-live="polite">
            {queryError !== undefined
              ? `bad pattern: ${queryError}`
              : search === undefined
                ? ''
                : `${currentMatch + 1} / ${search.total.toLocaleString('en')}${search.pending ? '…' : ''}`}
          </span>
          <button onClick={() => step(-1)} aria-label="previous match (N)" data-testid="find-prev">
            ↑
          </button>
          <button onClick={() => step(1)} aria-label="next match (n)" data-testid="find-next">
            ↓
          </button>
        </div>
        <fieldset class="levels">
          <legend>levels</legend>
          {levels.map((name, index) => (
            <label key={name}>
              <input
                type="checkbox"
                checked={!hiddenLevels.has(index)}
                data-testid={`level-${name}`}
                onChange={() => {
                  const next = new Set(hiddenLevels);
                  if (!next.delete(index)) next.add(index);
                  setHiddenLevels(next);
                }}
              />
              <span class={`lvl-${name}`}>{name}</span>
            </label>
          ))}
        </fieldset>
        <label>
          time{' '}
          <select value={timeMode} onChange={(e) => setTimeMode(e.currentTarget.value as TimeMode)} data-testid="time-mode">
            <option value="off">off</option>
            <option value="relative">relative</option>
            <option value="wall">wall clock (UTC)</option>
          </select>
        </label>
        <button aria-pressed={wrap} onClick={() => setWrap(!wrap)} data-testid="wrap">
          wrap
        </button>
        <button aria-pressed={follow} onClick={() => setFollow(!follow)} data-testid="follow" title="follow the end (f)">
          follow
        </button>
        <button disabled={selection === undefined} onClick={() => void copySelection()} data-testid="copy">
          copy lines
        </button>
        <button onClick={() => void save(address.raw, `${address.filename}.log`, true)} data-testid="download-raw">
          raw
        </button>
        {address.zip !== undefined && (
          <button onClick={() => void save(address.zip!, `${address.filename}-build.zip`)} data-testid="download-zip">
            build zip
          </button>
        )}
        {notice !== undefined && (
          <span class="notice" role="status">
            {notice}
          </span>
        )}
      </nav>
      <main class="main">
        {state === 'not-found' && (
          <p class="empty" role="alert">
            No stream and no stored log under this key. {stateDetail}
          </p>
        )}
        {state === 'finished' && model.count === 0 && (
          <p class="empty" role="alert" data-testid="empty-log">
            No lines: nothing is open or stored under this key, or its log is empty. (The Harness route answers a key it does not know as an empty, finished
            log.)
          </p>
        )}
        <LogView
          model={model}
          version={version}
          search={search}
          currentMatch={currentMatch}
          timeMode={timeMode}
          wrap={wrap}
          follow={follow}
          selection={selection}
          collapsed={collapsed}
          scrollTo={scrollTo}
          onScrolled={() => setScrollTo(undefined)}
          onFollowChange={setFollow}
          onLineClick={onLineClick}
          onToggleSection={(id) => {
            const next = new Set(collapsed);
            if (!next.delete(id)) next.add(id);
            setCollapsed(next);
          }}
        />
        {!follow && model.count > 0 && (
          <button class="jump" onClick={() => setFollow(true)} data-testid="jump-to-end">
            jump to end ↓
          </button>
        )}
      </main>
    </>
  );
}
