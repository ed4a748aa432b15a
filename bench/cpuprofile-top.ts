// Top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`, or
// `npm run bench -- --profile`): node --import=tsx bench/cpuprofile-top.ts <file> [n] [--inclusive]
// --inclusive: time with the function anywhere on the stack (its callees'
// time included; a function on the stack twice counts once per sample).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) {
  console.error('usage: node --import=tsx bench/cpuprofile-top.ts <file.cpuprofile> [n] [--inclusive]');
  process.exit(2);
}
const inclusive = process.argv.includes('--inclusive');
const top = Number(process.argv.slice(3).find((a) => !a.startsWith('--')) ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
const nameOf = (n: ProfileNode): string => {
  const url = n.callFrame.url.replace(/^.*\/(node_modules\/|work\/main\/)/, '');
  return `${n.callFrame.functionName || '(anonymous)'}  ${url}${url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
};
const totals = new Map<string, number>();
let all = 0;
for (const [id, us] of self) {
  all += us;
  if (!inclusive) {
    const name = nameOf(byId.get(id)!);
    totals.set(name, (totals.get(name) ?? 0) + us);
    continue;
  }
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(nameOf(byId.get(at)!));
  for (const name of seen) totals.set(name, (totals.get(name) ?? 0) + us);
}
const idle = [...totals].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
console.log(`total ${(all / 1e6).toFixed(2)} s sampled, busy ${((all - idle) / 1e6).toFixed(2)} s`);
for (const [name, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((us / all) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
}
