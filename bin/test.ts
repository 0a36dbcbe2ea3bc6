/**
 * `npm test`: the whole suite — types, lint, then unit, integration and browser tests in vitest.
 * Chromium is installed through apt-get when it is missing and we run as root
 * (lib/runtime/chromium.ts), the production Temporal server built once per machine; a prerequisite we cannot set up stops it at once with one line saying
 * what to install; no test is skipped for want of one.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { ensureChromium } from '../lib/runtime/chromium.ts';
import { temporalCliCacheDir } from '../lib/runtime/temporal-cli.ts';
import { ensureTemporalServerBinaries, TemporalServerUnavailableError } from '../lib/runtime/temporal-server-binaries.ts';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
const onPath = (name: string) => (process.env.PATH ?? '').split(':').some((d) => d && executable(path.join(d, name)));

const cliAvailable = (process.env.TEMPORAL_CLI && executable(process.env.TEMPORAL_CLI)) || onPath('temporal') || executable(path.join(temporalCliCacheDir(), 'temporal'));
if (!cliAvailable && !onPath('go')) {
  process.stderr.write('Missing prerequisite: Go (to build the Temporal CLI once) — install it with: apt-get install -y golang, or set TEMPORAL_CLI to a temporal binary\n');
  process.exit(1);
}
// After the checks that only say what to install: Chromium may be installed here (apt-get, as root).
const chromium = ensureChromium();
if (!chromium.ok) {
  process.stderr.write(`${chromium.message}\n`);
  process.exit(1);
}

// The cluster tier (test/cluster/) runs the production Temporal server: built once per machine from
// the Go module proxy, here with its progress rather than silently inside a test's set-up.
try {
  await ensureTemporalServerBinaries();
} catch (err) {
  if (!(err instanceof TemporalServerUnavailableError)) throw err;
  process.stderr.write(`Missing prerequisite: ${err.message}\n`);
  process.exit(1);
}

const step = (label: string, cmd: string, args: string[]) => {
  process.stderr.write(`\n▶ ${label}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`✖ ${label} failed\n`);
    process.exit(r.status ?? 1);
  }
};

const vitestArgs = process.argv.slice(2);
if (vitestArgs.length === 0) {
  step('typecheck (tsc)', process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit']);
  step('lint (eslint)', process.execPath, ['node_modules/eslint/bin/eslint.js', '.']);
}
step('tests (vitest)', process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...vitestArgs]);
