import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireLock, goInstall, isExecutable, onPath, type Progress } from './go-install.ts';
import { TEMPORAL_CLI_VERSION } from './temporal-cli.ts';

/**
 * The production Temporal parts for `npm run cluster`, built from the Go module proxy at the
 * versions the pinned CLI embeds (its go.mod), so the dev server and the cluster run the same
 * server code: the server (`temporal-server`), its schema tool (`temporal-sql-tool`) with the
 * PostgreSQL schema of the same release, and the UI server. See docs/operations.md.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_UI_VERSION = 'v2.42.1';
const SERVER_MODULE = 'go.temporal.io/server';
const UI_MODULE = 'github.com/temporalio/ui-server/v2';

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  uiServer: string;
  /** `schema/postgresql/v12` of the same server release: `temporal/versioned`, `visibility/versioned`. */
  postgresSchemaDir: string;
}

export class TemporalServerUnavailableError extends Error {
  override name = 'TemporalServerUnavailableError';
}

export function temporalServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'kaspi-notify', 'temporal-server', `${TEMPORAL_SERVER_VERSION}-ui-${TEMPORAL_UI_VERSION}`);
}

function layout(cacheDir: string): TemporalServerBinaries {
  return {
    server: path.join(cacheDir, 'temporal-server'),
    sqlTool: path.join(cacheDir, 'temporal-sql-tool'),
    uiServer: path.join(cacheDir, 'temporal-ui-server'),
    postgresSchemaDir: path.join(cacheDir, 'schema', 'postgresql', 'v12'),
  };
}

function complete(b: TemporalServerBinaries): boolean {
  return isExecutable(b.server) && isExecutable(b.sqlTool) && isExecutable(b.uiServer) && existsSync(path.join(b.postgresSchemaDir, 'temporal', 'versioned'));
}

export async function ensureTemporalServerBinaries(options: { env?: NodeJS.ProcessEnv; progress?: Progress } = {}): Promise<TemporalServerBinaries> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cacheDir = temporalServerCacheDir(env);
  const binaries = layout(cacheDir);
  if (complete(binaries)) return binaries;

  const go = onPath('go', env);
  if (!go) throw new TemporalServerUnavailableError('go is not installed: the Temporal server is built from the Go module proxy (apt-get install golang, or https://go.dev/dl)');
  mkdirSync(cacheDir, { recursive: true });
  const release = await acquireLock(path.join(cacheDir, 'build.lock'), progress, 'the Temporal server');
  try {
    const parts: Array<{ file: string; target: string; producedName: string; label: string }> = [
      { file: binaries.server, target: `${SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`, producedName: 'server', label: `the Temporal server ${TEMPORAL_SERVER_VERSION}` },
      { file: binaries.sqlTool, target: `${SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`, producedName: 'sql', label: `temporal-sql-tool ${TEMPORAL_SERVER_VERSION}` },
      { file: binaries.uiServer, target: `${UI_MODULE}/cmd/server@${TEMPORAL_UI_VERSION}`, producedName: 'server', label: `the Temporal UI server ${TEMPORAL_UI_VERSION}` },
    ];
    for (const part of parts) {
      if (isExecutable(part.file)) continue;
      const result = await goInstall({ go, target: part.target, producedName: part.producedName, cacheDir, env, progress, label: part.label });
      if (!result.ok) throw new TemporalServerUnavailableError(`Cannot build ${part.label}: ${result.error}`);
      renameSync(result.path, part.file);
    }
    if (!existsSync(path.join(binaries.postgresSchemaDir, 'temporal', 'versioned'))) copySchema(go, env, binaries.postgresSchemaDir);
    progress(`Temporal server ${TEMPORAL_SERVER_VERSION} (as embedded in CLI ${TEMPORAL_CLI_VERSION}) ready in ${cacheDir}`);
    return binaries;
  } finally {
    release();
  }
}

/** The schema ships in the server module, not in the binaries; keep a copy beside them. */
function copySchema(go: string, env: NodeJS.ProcessEnv, target: string): void {
  const r = spawnSync(go, ['mod', 'download', '-json', `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`], { env: { ...env, GOFLAGS: '-mod=mod' }, encoding: 'utf8', cwd: os.tmpdir() });
  const dir = r.status === 0 ? (JSON.parse(r.stdout) as { Dir?: string }).Dir : undefined;
  if (!dir) throw new TemporalServerUnavailableError(`go mod download ${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} failed: ${r.stderr.trim()}`);
  const staging = `${target}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  cpSync(path.join(dir, 'schema', 'postgresql', 'v12'), staging, { recursive: true });
  spawnSync('chmod', ['-R', 'u+w', staging]); // the module cache is read-only
  mkdirSync(path.dirname(target), { recursive: true });
  renameSync(staging, target);
}
