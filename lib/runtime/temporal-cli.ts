import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Finds or builds the `temporal` CLI (the dev server with its UI). Routes, in order:
 * TEMPORAL_CLI → `temporal` on PATH → a cached build → `go install` of the pinned module (with a
 * pinned GOTOOLCHAIN as fallback) → the TypeScript SDK's own download (machines with internet).
 * The cache lives outside the checkout so every clone on the machine reuses one build.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
// Used only when the machine's own Go cannot build the CLI (too old); fetched via the module proxy.
const FALLBACK_GOTOOLCHAIN = 'go1.25.5';

export type Progress = (line: string) => void;

export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'kaspi-notify', 'temporal-cli', TEMPORAL_CLI_VERSION);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export class TemporalCliUnavailableError extends Error {
  override name = 'TemporalCliUnavailableError';
}

export async function ensureTemporalCli(options: { env?: NodeJS.ProcessEnv; progress?: Progress } = {}): Promise<string> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));

  if (env.TEMPORAL_CLI) {
    if (!isExecutable(env.TEMPORAL_CLI)) throw new TemporalCliUnavailableError(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file`);
    return env.TEMPORAL_CLI;
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return fromPath;

  const cacheDir = temporalCliCacheDir(env);
  const binary = path.join(cacheDir, 'temporal');
  if (isExecutable(binary)) return binary;

  mkdirSync(cacheDir, { recursive: true });
  const release = await acquireLock(path.join(cacheDir, 'build.lock'), progress);
  try {
    // Another process may have finished the build while we waited for the lock.
    if (isExecutable(binary)) return binary;
    const failures: string[] = [];
    const go = onPath('go', env);
    if (go) {
      for (const toolchain of [undefined, FALLBACK_GOTOOLCHAIN]) {
        const result = await goBuild(go, cacheDir, env, progress, toolchain);
        if (result.ok) {
          renameSync(result.path, binary);
          progress(`temporal CLI ${TEMPORAL_CLI_VERSION} ready at ${binary}`);
          return binary;
        }
        failures.push(result.error);
      }
    } else {
      failures.push('go is not installed (apt-get install golang, or https://go.dev/dl)');
    }
    const downloaded = await sdkDownload(cacheDir, progress).catch((err: unknown) => {
      failures.push(`SDK download: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    });
    if (downloaded) {
      renameSync(downloaded, binary);
      return binary;
    }
    throw new TemporalCliUnavailableError(`Cannot provision the temporal CLI:\n  - ${failures.join('\n  - ')}`);
  } finally {
    release();
  }
}

async function goBuild(
  go: string,
  cacheDir: string,
  env: NodeJS.ProcessEnv,
  progress: Progress,
  toolchain: string | undefined,
): Promise<{ ok: true; path: string } | { ok: false; error: string }> {
  const staging = path.join(cacheDir, `staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const label = toolchain ? `with GOTOOLCHAIN=${toolchain}` : 'with the machine Go';
  progress(`Building the temporal CLI ${TEMPORAL_CLI_VERSION} from ${CLI_MODULE} ${label} (once per machine, a few minutes)…`);
  const started = Date.now();
  const args = ['install', `-ldflags=-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION.slice(1)}`, `${CLI_MODULE}@${TEMPORAL_CLI_VERSION}`];
  const child = spawn(go, args, {
    env: { ...env, GOBIN: staging, GOFLAGS: '-buildvcs=false', ...(toolchain ? { GOTOOLCHAIN: toolchain } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  let downloads = 0;
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-2000);
    downloads += text.split('\n').filter((l) => l.startsWith('go: downloading')).length;
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const ticker = setInterval(() => {
    progress(`  …still building (${Math.round((Date.now() - started) / 1000)} s, ${downloads} modules downloaded)`);
  }, 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(ticker);
  const built = path.join(staging, 'temporal');
  if (code === 0 && isExecutable(built)) {
    const final = path.join(cacheDir, `temporal.${process.pid}.tmp`);
    renameSync(built, final);
    rmSync(staging, { recursive: true, force: true });
    progress(`  built in ${Math.round((Date.now() - started) / 1000)} s`);
    return { ok: true, path: final };
  }
  rmSync(staging, { recursive: true, force: true });
  return { ok: false, error: `go ${args.join(' ')} (${label}) exited ${code}: ${tail.trim().split('\n').slice(-3).join(' | ')}` };
}

/** The TypeScript SDK downloads the CLI itself when it has internet; we keep the binary it fetched. */
async function sdkDownload(cacheDir: string, progress: Progress): Promise<string | undefined> {
  progress('Trying the Temporal SDK download of the CLI (needs internet)…');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const downloadDir = path.join(cacheDir, 'sdk-download');
  const testEnv = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', version: TEMPORAL_CLI_VERSION, downloadDir } },
  });
  await testEnv.teardown();
  const found = spawnSync('find', [downloadDir, '-type', 'f', '-name', 'temporal*', '-perm', '-u+x'], { encoding: 'utf8' });
  const file = found.stdout.split('\n').find(Boolean);
  return file;
}

/**
 * A lock directory (mkdir is atomic) holding the owner's pid, so concurrent `npm start`/`npm test`
 * runs build once and a lock left by a killed build is recognised as stale.
 */
async function acquireLock(lockDir: string, progress: Progress): Promise<() => void> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileIfExists(path.join(lockDir, 'pid')));
      if (owner && !isAlive(owner)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        progress(`Waiting for another process (pid ${owner || '?'}) that is building the temporal CLI…`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function readFileIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
