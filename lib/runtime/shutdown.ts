import { readdirSync, readFileSync } from 'node:fs';

/**
 * Ordered stop for `npm start` and `npm run cluster` that always ends with nothing left running.
 * SIGTERM or SIGINT starts the stop, newest part first. Signals that arrive while it runs are not
 * a reason to abandon it: a supervisor (systemd, `timeout`) sends SIGTERM to the whole process
 * group, so the same stop is asked for several times over (npm, sh and bin/launch.mjs's parent
 * watcher each pass one on). Only a second Ctrl-C, or the deadline, cuts it short — and then every
 * child still alive is killed outright before we exit, since our children run in process groups
 * of their own and no signal to ours reaches them.
 */
export interface StopPart {
  name: string;
  stop: () => Promise<void>;
  /** Processes of this part, for the forced end. */
  pids?: () => number[];
}

export interface Shutdown {
  push(part: StopPart): void;
  stop(code: number): Promise<never>;
}

function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * Our direct children still alive in process groups of their own (read from /proc): the servers
 * we detach. Each stops its own children; helpers in our group (esbuild's service) end with us.
 */
function ownChildren(): number[] {
  if (process.platform !== 'linux') return [];
  const ourGroup = statFields('self')[2];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(Number(entry));
      // A zombie (state Z) has exited already: only its exit status is left for us to collect.
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z' && fields[2] !== ourGroup) found.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/**
 * What no part stopped — a child spawned before its part was registered (a signal during
 * start-up), or one a part forgot: asked to stop, then killed after two seconds.
 */
async function sweepChildren(say: (line: string) => void): Promise<void> {
  const left = ownChildren();
  if (left.length === 0) return;
  say(`  stopping ${left.length} process(es) started before the signal reached them`);
  for (const pid of left) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline && ownChildren().length > 0) await new Promise((r) => setTimeout(r, 100));
  for (const pid of ownChildren()) signal(pid, 'SIGKILL');
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

export function installShutdown(options: { say: (line: string) => void; deadlineMs?: number; onStopped?: () => void }): Shutdown {
  const parts: StopPart[] = [];
  const deadlineMs = options.deadlineMs ?? 9_000;
  let stopping = false;

  const killEverything = () => {
    for (const part of parts) for (const pid of part.pids?.() ?? []) signal(pid, 'SIGKILL');
    for (const pid of ownChildren()) signal(pid, 'SIGKILL');
  };

  const stop = async (code: number): Promise<never> => {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    options.say('Stopping…');
    const deadline = setTimeout(() => {
      options.say(`  not stopped within ${Math.round(deadlineMs / 1000)} s: killing what is left`);
      killEverything();
      options.onStopped?.();
      process.exit(code || 1);
    }, deadlineMs);
    for (const part of parts.slice().reverse()) {
      try {
        await part.stop();
      } catch (err) {
        options.say(`  ${part.name}: ${(err as Error).message}`);
      }
    }
    await sweepChildren(options.say);
    clearTimeout(deadline);
    options.onStopped?.();
    options.say('Stopped.');
    process.exit(code);
  };

  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts >= 2 && stopping) {
      options.say('Second Ctrl-C: killing what is left');
      killEverything();
      options.onStopped?.();
      process.exit(130);
    }
    void stop(0);
  });
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGHUP', () => void stop(0));

  return { push: (part) => parts.push(part), stop };
}
