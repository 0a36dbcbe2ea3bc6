import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Building pinned Go programs (the Temporal CLI, server, schema tool and UI) through the Go module
 * proxy into a per-user cache, shared by every clone on the machine: one build at a time behind a
 * lock, a progress line every 15 s, and the binary moved into place only when it is complete.
 */
export type Progress = (line: string) => void;

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface GoInstallRequest {
  go: string;
  /** `module/path/cmd/x@vX.Y.Z` */
  target: string;
  /** The file name `go install` writes (the package's last path element). */
  producedName: string;
  ldflags?: string;
  toolchain?: string;
  cacheDir: string;
  env: NodeJS.ProcessEnv;
  progress: Progress;
  label: string;
}

/** Runs `go install` into a private staging folder; on success the binary's temporary path in cacheDir. */
export async function goInstall(request: GoInstallRequest): Promise<{ ok: true; path: string } | { ok: false; error: string }> {
  const { go, target, cacheDir, env, progress } = request;
  const staging = path.join(cacheDir, `staging-${process.pid}-${request.producedName}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const how = request.toolchain ? `with GOTOOLCHAIN=${request.toolchain}` : 'with the machine Go';
  progress(`Building ${request.label} from ${target} ${how} (once per machine, a few minutes)…`);
  const started = Date.now();
  const args = ['install', ...(request.ldflags ? [`-ldflags=${request.ldflags}`] : []), target];
  const child = spawn(go, args, {
    env: { ...env, GOBIN: staging, GOFLAGS: '-buildvcs=false', ...(request.toolchain ? { GOTOOLCHAIN: request.toolchain } : {}) },
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
    progress(`  …still building ${request.label} (${Math.round((Date.now() - started) / 1000)} s, ${downloads} modules downloaded)`);
  }, 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(ticker);
  const built = path.join(staging, request.producedName);
  if (code === 0 && isExecutable(built)) {
    const final = path.join(cacheDir, `${request.producedName}.${process.pid}.tmp`);
    renameSync(built, final);
    rmSync(staging, { recursive: true, force: true });
    progress(`  built ${request.label} in ${Math.round((Date.now() - started) / 1000)} s`);
    return { ok: true, path: final };
  }
  rmSync(staging, { recursive: true, force: true });
  return { ok: false, error: `go ${args.join(' ')} (${how}) exited ${code}: ${tail.trim().split('\n').slice(-3).join(' | ')}` };
}

/**
 * A lock directory (mkdir is atomic) holding the owner's pid, so concurrent `npm start`/`npm test`
 * runs build once and a lock left by a killed build is recognised as stale.
 */
export async function acquireLock(lockDir: string, progress: Progress, what: string): Promise<() => void> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileIfExists(path.join(lockDir, 'pid')));
      // No pid yet: just created, or its creator died before writing it (then it ages out).
      const orphaned = !owner && Date.now() - mtimeMs(lockDir) > 10_000;
      if ((owner && !isAlive(owner)) || orphaned) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        progress(`Waiting for another process (pid ${owner || '?'}) that is building ${what}…`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function readFileIfExists(file: string): string {
  try {
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  } catch {
    return '';
  }
}

function mtimeMs(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
}
