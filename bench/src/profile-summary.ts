/**
 * `bun src/profile-summary.ts DIR [TOP]`: the functions with the most self time in each CPU
 * profile (`.cpuprofile`, as `bun --cpu-prof` writes them; `bun run bench` writes them to
 * BENCH_CPU_PROF_DIR when it is set).
 *
 * Bun writes no idle samples: a sample after an idle gap carries the gap as its time delta, so
 * weighting samples by their deltas charges waiting to whatever ran next (an await's resumption,
 * a timer). Each sample counts as one sampling interval instead (the median delta): CPU time.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [dir, topArg = '15'] = process.argv.slice(2);
if (!dir) throw new Error('usage: profile-summary.ts DIR [TOP]');
for (const file of (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile')).sort()) {
  const profile = (await Bun.file(join(dir, file)).json()) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<string, number>();
  const ms = medianOf(profile.timeDeltas) / 1_000;
  let totalMs = 0;
  profile.samples.forEach((id) => {
    const node = byId.get(id);
    totalMs += ms;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      ? `${url.replace(/^.*node_modules\//, '').replace(/^.*\/(?=[^/]+\/src\/)/, '')}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    selfMs.set(key, (selfMs.get(key) ?? 0) + ms);
  });
  const idle = ['(idle)', '(program)', '(garbage collector)'].reduce((sum, name) => sum + (selfMs.get(name) ?? 0), 0);
  console.log(
    `\n${file}: ${profile.samples.length} samples every ~${ms.toFixed(1)} ms, ${((totalMs - idle) / 1_000).toFixed(1)} s busy`,
  );
  for (const [name, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) {
    console.log(`  ${((ms / totalMs) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${name}`);
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = values.filter((value) => value > 0).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
