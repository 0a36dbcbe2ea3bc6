import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Chromium for the browser tests (`npm test`), set up the way `npm start` installs npm packages:
 * when it is missing and we may install system packages (root, apt-get present), apt-get installs
 * it, with its progress on stderr; otherwise one line says exactly what to run. No Chromium is
 * downloaded from elsewhere: the system's package is the one its security updates reach.
 */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

export interface ChromiumDeps {
  /** Is this an executable file? */
  executable(file: string): boolean;
  /** The effective user id (undefined where the platform has none). */
  uid(): number | undefined;
  /** Runs a command with its output on our stderr; resolves to its exit status. */
  exec(command: string, args: string[], env: NodeJS.ProcessEnv): number | null;
  /** Where a command is on PATH, if it is. */
  which(name: string): string | undefined;
  log(line: string): void;
}

export type ChromiumSetup =
  | { ok: true; path: string; installed: boolean }
  | { ok: false; message: string };

export function ensureChromium(env: NodeJS.ProcessEnv = process.env, deps: ChromiumDeps = systemDeps(env)): ChromiumSetup {
  const wanted = env.CHROMIUM_PATH?.trim() || DEFAULT_CHROMIUM_PATH;
  if (deps.executable(wanted)) return { ok: true, path: wanted, installed: false };

  // The system package installs /usr/bin/chromium; a CHROMIUM_PATH elsewhere is the user's own binary.
  if (wanted !== DEFAULT_CHROMIUM_PATH) {
    return { ok: false, message: `Missing prerequisite: CHROMIUM_PATH=${wanted} is not an executable file — point it at a Chromium binary, or unset it to use ${DEFAULT_CHROMIUM_PATH}` };
  }
  const aptGet = deps.which('apt-get');
  if (!aptGet) {
    return { ok: false, message: `Missing prerequisite: Chromium at ${DEFAULT_CHROMIUM_PATH} — install Chromium with your system's package manager (or set CHROMIUM_PATH to its binary)` };
  }
  if (deps.uid() !== 0) {
    return { ok: false, message: `Missing prerequisite: Chromium at ${DEFAULT_CHROMIUM_PATH} — install it with: sudo apt-get install -y chromium (or set CHROMIUM_PATH)` };
  }

  deps.log('Installing Chromium for the browser tests (apt-get install -y chromium)…');
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => deps.exec(aptGet, ['install', '-y', 'chromium'], aptEnv);
  let status = install();
  // A fresh machine's package lists are often missing or stale (404 on a superseded version).
  if (status !== 0) {
    deps.log('apt-get install failed; refreshing the package lists (apt-get update) and trying again…');
    const updated = deps.exec(aptGet, ['update'], aptEnv);
    if (updated === 0) status = install();
  }
  if (status !== 0) {
    return { ok: false, message: `Could not install Chromium (apt-get install -y chromium failed, see above) — install it by hand or set CHROMIUM_PATH` };
  }
  if (!deps.executable(DEFAULT_CHROMIUM_PATH)) {
    return { ok: false, message: `apt-get installed chromium but ${DEFAULT_CHROMIUM_PATH} is still missing — set CHROMIUM_PATH to its binary` };
  }
  deps.log(`Chromium ready at ${DEFAULT_CHROMIUM_PATH}`);
  return { ok: true, path: DEFAULT_CHROMIUM_PATH, installed: true };
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function systemDeps(env: NodeJS.ProcessEnv = process.env): ChromiumDeps {
  return {
    executable: isExecutable,
    uid: () => process.getuid?.(),
    exec: (command, args, childEnv) => spawnSync(command, args, { env: childEnv, stdio: ['ignore', process.stderr, process.stderr] }).status,
    which: (name) => (env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name)).find(isExecutable),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}
