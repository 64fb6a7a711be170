/**
 * `bun src/profile-summary.ts DIR [TOP]`: the functions with the most self time in each CPU
 * profile (`.cpuprofile`, as `bun --cpu-prof` writes them; `bun run bench` writes them to
 * BENCH_CPU_PROF_DIR when it is set).
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
  let totalMs = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[index] ?? 0) / 1_000;
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
  console.log(`\n${file}: ${(totalMs / 1_000).toFixed(1)} s sampled, ${((totalMs - idle) / 1_000).toFixed(1)} s busy`);
  for (const [name, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) {
    console.log(`  ${((ms / totalMs) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${name}`);
  }
}
