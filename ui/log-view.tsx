// The log's rows on screen (docs/VIEWER.md §3): @tanstack/virtual-core keeps
// only the rows in view (plus an overscan) in the DOM, so a 1,000,000-line log
// is as light to scroll as a short one. Fixed row heights while not wrapping;
// measured heights when wrapping.
import { elementScroll, measureElement, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import type { ComponentChild } from 'preact';
import { useLayoutEffect, useMemo, useReducer, useRef } from 'preact/hooks';
import { renderText } from './ansi-render.tsx';
import { ROW_DROPPED, type LogModel } from './log-model.ts';
import { matchRanges, type LogSearch } from './log-search.ts';
import { plainText } from './plain-text.ts';

const ROW_PX = 20;

export type TimeMode = 'off' | 'relative' | 'wall';

export interface LogViewProps {
  model: LogModel;
  /** Changes whenever the model or its filter did: the view renders again. */
  version: number;
  search: LogSearch | undefined;
  /** Index of the current match in search.matchRows, or -1. */
  currentMatch: number;
  timeMode: TimeMode;
  wrap: boolean;
  follow: boolean;
  /** Selected lines (1-based line numbers, inclusive), or undefined. */
  selection: { from: number; to: number } | undefined;
  collapsed: ReadonlySet<number>;
  /** Set to scroll a visible index into view (then cleared by the caller through onScrolled). */
  scrollTo: { index: number; align: 'start' | 'center' | 'end' } | undefined;
  onScrolled(): void;
  onFollowChange(follow: boolean): void;
  onLineClick(line: number, extend: boolean): void;
  onToggleSection(id: number): void;
}

export function LogView(props: LogViewProps) {
  const { model } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const lastTop = useRef(0);
  const lastHeight = useRef(0);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const virtualizer = useMemo(
    () =>
      new Virtualizer<HTMLDivElement, HTMLDivElement>({
        count: 0,
        getScrollElement: () => scroller.current,
        estimateSize: () => ROW_PX,
        scrollToFn: elementScroll,
        observeElementRect,
        observeElementOffset,
        overscan: 30,
        onChange: () => rerender(0),
      }),
    [],
  );
  virtualizer.setOptions({
    ...virtualizer.options,
    count: model.visibleCount,
    measureElement: props.wrap ? measureElement : (element) => element.getBoundingClientRect().height || ROW_PX,
  });
  useLayoutEffect(() => virtualizer._didMount(), [virtualizer]);
  useLayoutEffect(() => virtualizer._willUpdate());
  useLayoutEffect(() => virtualizer.measure(), [props.wrap, virtualizer]);

  // Follow: keep the end in view while following. A log that fits on screen is always at its end.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    if (props.follow && model.visibleCount > 0) {
      el.scrollTop = el.scrollHeight;
      lastTop.current = el.scrollTop;
    } else if (!props.follow && props.scrollTo === undefined && el.scrollHeight <= el.clientHeight) props.onFollowChange(true);
    lastHeight.current = el.scrollHeight;
  });
  useLayoutEffect(() => {
    if (props.scrollTo === undefined) return;
    virtualizer.scrollToIndex(Math.min(props.scrollTo.index, Math.max(0, model.visibleCount - 1)), { align: props.scrollTo.align });
    props.onScrolled();
  }, [props.scrollTo]);

  function onScroll() {
    const el = scroller.current!;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_PX;
    // Programmatic scrolls only go down: a scroll up is the viewer's, and ends follow — unless the
    // content shrank under it (a filter hid rows), which moves scrollTop without the viewer.
    const shrank = el.scrollHeight < lastHeight.current;
    lastHeight.current = el.scrollHeight;
    if (el.scrollTop < lastTop.current - 1 && props.follow && !shrank) props.onFollowChange(false);
    else if (atBottom && !props.follow) props.onFollowChange(true);
    lastTop.current = el.scrollTop;
  }

  const firstTime = firstLineTime(model);
  const items = virtualizer.getVirtualItems();
  const currentRow = props.search !== undefined && props.currentMatch >= 0 ? props.search.matchRows[props.currentMatch]! : -1;
  return (
    <div class={props.wrap ? 'log wrap' : 'log'} ref={scroller} onScroll={onScroll} role="log" aria-label="log lines" tabIndex={0} data-testid="log">
      <div class="log-inner" style={{ height: `${virtualizer.getTotalSize()}px` }}>
        {items.map((item) => {
          const row = model.visible[item.index]!;
          return (
            <div
              key={row}
              class={rowClass(props, row)}
              data-index={item.index}
              data-line={model.seqs[row]! + 1}
              ref={
                props.wrap
                  ? (el) => {
                      if (el !== null) virtualizer.measureElement(el);
                    }
                  : undefined
              }
              style={{ transform: `translateY(${item.start}px)` }}
            >
              {renderRow(props, row, firstTime, currentRow)}
            </div>
          );
        })}
      </div>
    </div>
  );
}

function rowClass(props: LogViewProps, row: number): string {
  const { model, selection } = props;
  const line = model.seqs[row]! + 1;
  let cls = `row lvl-${cssName(model.levelNames[model.levels[row]!] ?? 'info')}`;
  if (model.kinds[row] === ROW_DROPPED) cls += ' dropped';
  if (selection !== undefined && line >= selection.from && line <= selection.to && model.kinds[row] !== ROW_DROPPED) cls += ' selected';
  return cls;
}

function renderRow(props: LogViewProps, row: number, firstTime: number, currentRow: number): ComponentChild {
  const { model, search } = props;
  const text = model.texts[row]!;
  if (model.kinds[row] === ROW_DROPPED) {
    return (
      <span class="txt" role="note" data-testid="dropped">
        ⚠ {text}
      </span>
    );
  }
  const line = model.seqs[row]! + 1;
  let matches: [number, number][] = [];
  let current = -1;
  if (search !== undefined) {
    const first = search.firstFrom(row);
    if (first !== -1 && search.matchRows[first] === row) {
      matches = matchRanges(search.pattern, plainText(text));
      if (currentRow === row) current = search.occurrence(props.currentMatch);
    }
  }
  const section = model.sectionHeadedBy(row);
  return (
    <>
      <a
        class="ln"
        href={`#L${line}`}
        onClick={(event) => {
          event.preventDefault();
          props.onLineClick(line, event.shiftKey);
        }}
      >
        {line}
      </a>
      {props.timeMode !== 'off' && <span class="ts">{formatTime(model.times[row]!, firstTime, props.timeMode)}</span>}
      {section !== undefined && (
        <button
          class="fold"
          aria-expanded={!props.collapsed.has(section.id)}
          aria-label={`${props.collapsed.has(section.id) ? 'expand' : 'collapse'} section ${section.title}`}
          onClick={() => props.onToggleSection(section.id)}
          data-testid="fold"
        >
          {props.collapsed.has(section.id) ? '▸' : '▾'}
        </button>
      )}
      <span class={section !== undefined ? 'txt section-title' : 'txt'}>{renderText(text, matches, current)}</span>
      {section?.durationMs !== undefined && <span class="duration">{formatDuration(section.durationMs)}</span>}
    </>
  );
}

function firstLineTime(model: LogModel): number {
  for (let row = 0; row < Math.min(model.count, 100); row++) if (Number.isFinite(model.times[row])) return model.times[row]!;
  return NaN;
}

function formatTime(ms: number, first: number, mode: TimeMode): string {
  if (!Number.isFinite(ms)) return '';
  if (mode === 'wall') return new Date(ms).toISOString().slice(11, 23);
  const delta = Math.max(0, ms - (Number.isFinite(first) ? first : ms));
  const minutes = Math.floor(delta / 60_000);
  const seconds = ((delta % 60_000) / 1000).toFixed(3).padStart(6, '0');
  return `+${String(minutes).padStart(2, '0')}:${seconds}`;
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function cssName(level: string): string {
  return level.toLowerCase().replace(/[^a-z0-9-]/g, '_');
}
