// The web viewer's pure logic (ui/, docs/VIEWER.md): the log model with its
// sections, \r collapsing, dropped markers and filters; find over the whole
// log; permalinks and page addresses. The page itself is tested in Chromium
// (viewer.test.ts).
import assert from 'node:assert/strict';
import { stepAddress } from '../ui/addresses.ts';
import { collapseCarriageReturns } from '../ui/carriage-return.ts';
import { LogModel } from '../ui/log-model.ts';
import { compileQuery, LogSearch, matchRanges, SearchError } from '../ui/log-search.ts';
import { parseHash } from '../ui/permalink.ts';
import { onlySgr, plainText } from '../ui/plain-text.ts';
import { parseSectionMarker } from '../ui/sections.ts';

function modelOf(texts: string[], time = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString()): LogModel {
  const model = new LogModel();
  texts.forEach((out, seq) => model.appendLine({ seq, out: `${out}\n`, level: 'info', time: time(seq) }));
  return model;
}

describe('the web viewer, pure parts', () => {
  describe('\\r progress lines', () => {
    it('shows what a terminal leaves: later text overwrites from the line start', () => {
      assert.equal(collapseCarriageReturns('10%\r50%\r100%'), '100%');
      assert.equal(collapseCarriageReturns('abcdef\rxy'), 'xycdef');
      assert.equal(collapseCarriageReturns('done\r'), 'done');
      assert.equal(collapseCarriageReturns('no returns'), 'no returns');
    });
    it('keeps the last non-empty overwrite when colours make columns unknowable', () => {
      assert.equal(collapseCarriageReturns('\x1b[32m10%\x1b[0m\r\x1b[32m100%\x1b[0m'), '\x1b[32m100%\x1b[0m');
    });
  });

  describe('section markers', () => {
    it("reads GitLab's section_start / section_end with their timestamps and header", () => {
      assert.deepEqual(parseSectionMarker('\x1b[0Ksection_start:1700000000:build_step[collapsed=true]\r\x1b[0KBuilding'), {
        kind: 'start',
        name: 'build_step',
        title: 'Building',
        atMs: 1_700_000_000_000,
        collapsed: true,
      });
      assert.deepEqual(parseSectionMarker('section_start:1700000000:s\r\x1b[0KS'), { kind: 'start', name: 's', title: 'S', atMs: 1_700_000_000_000 });
      assert.deepEqual(parseSectionMarker('\x1b[0Ksection_end:1700000042:build_step\r\x1b[0K'), {
        kind: 'end',
        name: 'build_step',
        atMs: 1_700_000_042_000,
        rest: '',
      });
    });
    it("reads GitHub's ::group:: / ::endgroup::, and nothing else", () => {
      assert.deepEqual(parseSectionMarker('::group::Install'), { kind: 'start', name: 'Install', title: 'Install' });
      assert.deepEqual(parseSectionMarker('::endgroup::'), { kind: 'end', rest: '' });
      assert.equal(parseSectionMarker('a section_start: in prose'), undefined);
      assert.equal(parseSectionMarker('plain'), undefined);
    });
  });

  describe('the log model', () => {
    it('makes sections with headers, nesting and durations, hides end markers, and collapses', () => {
      const model = modelOf(['before', '::group::Outer', 'o1', '::group::Inner', 'i1', '::endgroup::', 'o2', '::endgroup::', 'after']);
      assert.equal(model.count, 9);
      assert.deepEqual(
        model.sections.map((s) => [s.title, s.headerRow, s.endRow, s.depth, s.parent, s.durationMs]),
        [
          ['Outer', 1, 7, 0, -1, 6000],
          ['Inner', 3, 5, 1, 0, 2000],
        ],
      );
      const shown = () => [...model.visible.subarray(0, model.visibleCount)].map((row) => model.texts[row]);
      assert.deepEqual(shown(), ['before', 'Outer', 'o1', 'Inner', 'i1', 'o2', 'after']);
      model.setFilter({ hiddenLevels: new Set(), collapsed: new Set([1]) });
      assert.deepEqual(shown(), ['before', 'Outer', 'o1', 'Inner', 'o2', 'after']);
      model.setFilter({ hiddenLevels: new Set(), collapsed: new Set([0]) });
      assert.deepEqual(shown(), ['before', 'Outer', 'after']);
      // Rows arriving under a collapsed section stay hidden.
      model.appendLine({ seq: 9, out: '::group::Late\n' });
      model.appendLine({ seq: 10, out: 'late line\n' });
      assert.deepEqual(shown(), ['before', 'Outer', 'after', 'Late', 'late line']);
    });

    it("uses GitLab's marker timestamps for the duration, and ends the section its end marker names", () => {
      const model = modelOf(['\x1b[0Ksection_start:100:a\r\x1b[0KA', '\x1b[0Ksection_start:101:b\r\x1b[0KB', '\x1b[0Ksection_end:160:a\r\x1b[0K', 'x']);
      assert.deepEqual(
        model.sections.map((s) => [s.title, s.endRow, s.durationMs]),
        [
          ['A', 2, 60_000],
          ['B', 2, 59_000],
        ],
      );
      assert.equal(model.sectionOf[3], -1);
    });

    it('drops replayed seqs (a resumed tail), marks dropped ranges, and finds rows by seq', () => {
      const model = modelOf(['a', 'b']);
      assert.equal(model.appendLine({ seq: 1, out: 'b again\n' }), false);
      model.appendDropped(2, 9);
      model.appendLine({ seq: 10, out: 'k\n' });
      assert.equal(model.count, 4);
      assert.match(model.texts[2]!, /^8 lines \(3–10\) were lost/);
      assert.equal(model.rowOfSeq(10), 3);
      assert.equal(model.rowOfSeq(5), 3);
      assert.equal(model.lastSeq, 10);
    });

    it('filters levels but always shows dropped markers', () => {
      const model = new LogModel();
      model.appendLine({ seq: 0, out: 'i\n', level: 'info' });
      model.appendLine({ seq: 1, out: 'e\n', level: 'error' });
      model.appendDropped(2, 2);
      model.setFilter({ hiddenLevels: new Set([model.levelNames.indexOf('info')]), collapsed: new Set() });
      assert.deepEqual([...model.visible.subarray(0, model.visibleCount)], [1, 2]);
    });

    it('grows past its initial capacity without losing rows', () => {
      const model = new LogModel();
      for (let seq = 0; seq < 5000; seq++) model.appendLine({ seq, out: `line ${seq}\n` });
      assert.equal(model.count, 5000);
      assert.equal(model.texts[4999], 'line 4999');
      assert.equal(model.seqs[4999], 4999);
      assert.equal(model.visibleCount, 5000);
    });
  });

  describe('find', () => {
    it('counts every match over the whole log, a slice at a time, and continues as rows arrive', () => {
      const texts = Array.from({ length: 50_000 }, (_, i) => (i % 1000 === 7 ? `needle \x1b[1mNeedle\x1b[0m ${i}` : `hay ${i}`));
      const model = modelOf(texts);
      const search = new LogSearch(model, compileQuery({ text: 'needle', regex: false, caseSensitive: false })!);
      let slices = 0;
      for (; search.pending && slices < 100; slices++) search.step();
      assert.ok(slices > 1, 'a 50,000-row log takes more than one slice');
      assert.equal(search.total, 100);
      assert.equal(search.matchRows[0], 7);
      assert.equal(search.occurrence(1), 1);
      assert.equal(search.firstFrom(8), 2);
      model.appendLine({ seq: 50_000, out: 'needle\n' });
      assert.equal(search.pending, true);
      search.step();
      assert.equal(search.total, 101);
    });
    it('takes regular expressions and case, refuses a bad one with its reason, and escapes plain text', () => {
      assert.deepEqual(matchRanges(compileQuery({ text: 'b+', regex: true, caseSensitive: true })!, 'abbcB'), [[1, 3]]);
      assert.deepEqual(matchRanges(compileQuery({ text: 'b+', regex: false, caseSensitive: false })!, 'b+B+'), [
        [0, 2],
        [2, 4],
      ]);
      assert.throws(() => compileQuery({ text: '(', regex: true, caseSensitive: false }), SearchError);
      assert.equal(compileQuery({ text: '', regex: true, caseSensitive: false }), undefined);
      assert.deepEqual(matchRanges(compileQuery({ text: 'x*', regex: true, caseSensitive: false })!, 'ab'), []);
    });
    it('matches the text without its ANSI escapes, and renders the same characters (only SGR reaches anser)', () => {
      const text = '\x1b[31mred\x1b[0m and \x1b]8;;https://x.example\x1b\\link\x1b]8;;\x1b\\ \x1b(B\x1b[Kend \x1b]0;title\x07';
      assert.equal(plainText(text), 'red and link end ');
      assert.equal(onlySgr(text), '\x1b[31mred\x1b[0m and link end ');
    });
    it('does not count the words of a dropped marker as matches', () => {
      const model = modelOf(['a lost line']);
      model.appendDropped(1, 5);
      const search = new LogSearch(model, compileQuery({ text: 'lost', regex: false, caseSensitive: false })!);
      search.step();
      assert.equal(search.total, 1);
    });
  });

  describe('addresses and permalinks', () => {
    it('maps CI and Harness pages to their routes', () => {
      assert.deepEqual(stepAddress('/ui/ci/p/42/build/test%20x', new URLSearchParams()), {
        title: 'p / 42 / build / test x',
        stream: '/ci/p/42/build/test%20x/stream',
        raw: '/ci/p/42/build/test%20x/raw',
        zip: '/ci/p/42/logs.zip',
        filename: 'p-42-build-test x',
      });
      assert.equal(stepAddress('/ui/stream', new URLSearchParams('accountID=a&key=k/1'))?.stream, '/stream?accountID=a&key=k%2F1');
      assert.equal(stepAddress('/ui/', new URLSearchParams()), undefined);
    });
    it('reads #L12 and #L12-L20 in either order, and nothing else', () => {
      assert.deepEqual(parseHash('#L12'), { from: 12, to: 12 });
      assert.deepEqual(parseHash('#L20-L12'), { from: 12, to: 20 });
      assert.equal(parseHash('#x'), undefined);
    });
  });
});
