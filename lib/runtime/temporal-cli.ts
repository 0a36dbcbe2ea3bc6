import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireLock, goInstall, isExecutable, onPath, type Progress } from './go-install.ts';

export type { Progress };

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


export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'kaspi-notify', 'temporal-cli', TEMPORAL_CLI_VERSION);
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
  const release = await acquireLock(path.join(cacheDir, 'build.lock'), progress, 'the temporal CLI');
  try {
    // Another process may have finished the build while we waited for the lock.
    if (isExecutable(binary)) return binary;
    const failures: string[] = [];
    const go = onPath('go', env);
    if (go) {
      for (const toolchain of [undefined, FALLBACK_GOTOOLCHAIN]) {
        const result = await goInstall({
          go, target: `${CLI_MODULE}@${TEMPORAL_CLI_VERSION}`, producedName: 'temporal', cacheDir, env, progress, toolchain,
          ldflags: `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION.slice(1)}`, label: `the temporal CLI ${TEMPORAL_CLI_VERSION}`,
        });
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
