#!/usr/bin/env node
// Entry point of `npm start`, `npm run cluster` and `npm test`. Plain JavaScript on purpose: on a fresh clone nothing
// is installed yet, so this file installs the dependencies and only then loads TypeScript.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function dependenciesStale() {
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return true;
  const lock = path.join(root, 'package-lock.json');
  return existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs + 1000;
}

if (dependenciesStale()) {
  process.stderr.write('Installing dependencies (npm ci)…\n');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('npm ci failed; see the output above.\n');
    process.exit(1);
  }
}

const [mode, ...rest] = process.argv.slice(2);
const entry = { start: 'bin/start.ts', cluster: 'bin/cluster.ts', test: 'bin/test.ts' }[mode ?? ''];
if (!entry) {
  process.stderr.write('usage: node bin/launch.mjs start|cluster|test [args]\n');
  process.exit(2);
}
// `npm start` runs us under `sh -c`; a SIGTERM sent to npm reaches neither sh nor us, and npm
// exits. So watch our parent (sh) and its parent (npm): when either is gone, stop in order.
// Nothing above npm is watched, so `nohup npm start &` from a script that then exits keeps running.
function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}
const parent = process.ppid;
const grandparent = parentOf(parent);
if ((mode === 'start' || mode === 'cluster') && process.platform === 'linux' && process.env.npm_lifecycle_event && grandparent > 1) {
  const watcher = setInterval(() => {
    if (process.ppid !== parent || parentOf(parent) !== grandparent) {
      clearInterval(watcher); // once: a second SIGTERM means "exit now" to bin/start.ts
      process.kill(process.pid, 'SIGTERM');
    }
  }, 1000);
  watcher.unref();
}

process.argv = [process.argv[0], path.join(root, entry), ...rest];
const { register } = await import('tsx/esm/api');
register();
await import(path.join(root, entry));
