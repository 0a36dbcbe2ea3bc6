import { describe, expect, it } from 'vitest';
import { DEFAULT_CHROMIUM_PATH, ensureChromium, type ChromiumDeps } from '../../lib/runtime/chromium.ts';

/** A machine: which files are executable, who we are, and what each apt-get run does to it. */
function machine(options: { files?: string[]; uid?: number; aptGet?: boolean; install?: number[]; update?: number; installs?: string[] }) {
  const files = new Set(options.files ?? []);
  const installResults = [...(options.install ?? [0])];
  const calls: { args: string[]; env: NodeJS.ProcessEnv }[] = [];
  const logs: string[] = [];
  const deps: ChromiumDeps = {
    executable: (file) => files.has(file),
    uid: () => options.uid,
    which: (name) => (name === 'apt-get' && options.aptGet !== false ? '/usr/bin/apt-get' : undefined),
    exec: (command, args, env) => {
      expect(command).toBe('/usr/bin/apt-get');
      calls.push({ args, env });
      if (args[0] === 'update') return options.update ?? 0;
      const status = installResults.shift() ?? 0;
      if (status === 0) for (const f of options.installs ?? [DEFAULT_CHROMIUM_PATH]) files.add(f);
      return status;
    },
    log: (line) => logs.push(line),
  };
  return { deps, calls, logs };
}

describe('ensureChromium (npm test sets up its browser)', () => {
  it('uses a Chromium that is already there and runs nothing', () => {
    const m = machine({ files: [DEFAULT_CHROMIUM_PATH], uid: 1000 });
    expect(ensureChromium({}, m.deps)).toEqual({ ok: true, path: DEFAULT_CHROMIUM_PATH, installed: false });
    expect(m.calls).toEqual([]);
  });

  it('keeps CHROMIUM_PATH: an executable there is used, a missing one is named and nothing is installed', () => {
    const present = machine({ files: ['/opt/chrome/chrome'], uid: 0 });
    expect(ensureChromium({ CHROMIUM_PATH: '/opt/chrome/chrome' }, present.deps)).toEqual({ ok: true, path: '/opt/chrome/chrome', installed: false });
    const missing = machine({ uid: 0 });
    const result = ensureChromium({ CHROMIUM_PATH: '/opt/chrome/chrome' }, missing.deps);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('CHROMIUM_PATH=/opt/chrome/chrome');
    expect(missing.calls).toEqual([]);
  });

  it('as root with apt-get: installs chromium non-interactively, saying so', () => {
    const m = machine({ uid: 0 });
    expect(ensureChromium({ PATH: '/usr/bin' }, m.deps)).toEqual({ ok: true, path: DEFAULT_CHROMIUM_PATH, installed: true });
    expect(m.calls.map((c) => c.args)).toEqual([['install', '-y', 'chromium']]);
    expect(m.calls[0]!.env.DEBIAN_FRONTEND).toBe('noninteractive');
    expect(m.calls[0]!.env.PATH).toBe('/usr/bin');
    expect(m.logs[0]).toMatch(/Installing Chromium/);
  });

  it('refreshes stale package lists once when the first install fails', () => {
    const m = machine({ uid: 0, install: [100, 0] });
    expect(ensureChromium({}, m.deps)).toMatchObject({ ok: true, installed: true });
    expect(m.calls.map((c) => c.args[0])).toEqual(['install', 'update', 'install']);
    for (const call of m.calls) expect(call.env.DEBIAN_FRONTEND).toBe('noninteractive');
  });

  it('stops with one line when the install fails even after apt-get update, or when update itself fails', () => {
    const twice = machine({ uid: 0, install: [100, 100] });
    const a = ensureChromium({}, twice.deps);
    expect(a.ok).toBe(false);
    expect(twice.calls.map((c) => c.args[0])).toEqual(['install', 'update', 'install']);
    const noUpdate = machine({ uid: 0, install: [100], update: 1 });
    const b = ensureChromium({}, noUpdate.deps);
    expect(b.ok).toBe(false);
    expect(noUpdate.calls.map((c) => c.args[0])).toEqual(['install', 'update']);
    for (const r of [a, b]) expect(!r.ok && r.message.split('\n')).toHaveLength(1);
  });

  it('does not claim success when the package puts its binary elsewhere', () => {
    const m = machine({ uid: 0, installs: ['/usr/bin/chromium-browser'] });
    const result = ensureChromium({}, m.deps);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('set CHROMIUM_PATH');
  });

  it('not root: installs nothing and says exactly what to run', () => {
    const m = machine({ uid: 1000 });
    const result = ensureChromium({}, m.deps);
    expect(result).toEqual({ ok: false, message: `Missing prerequisite: Chromium at ${DEFAULT_CHROMIUM_PATH} — install it with: sudo apt-get install -y chromium (or set CHROMIUM_PATH)` });
    expect(m.calls).toEqual([]);
  });

  it('no apt-get: installs nothing and points at the system package manager', () => {
    const m = machine({ uid: 0, aptGet: false });
    const result = ensureChromium({}, m.deps);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/package manager/);
    expect(m.calls).toEqual([]);
  });
});
