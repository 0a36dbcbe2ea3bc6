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

export function installShutdown(options: { say: (line: string) => void; deadlineMs?: number; onStopped?: () => void }): Shutdown {
  const parts: StopPart[] = [];
  const deadlineMs = options.deadlineMs ?? 9_000;
  let stopping = false;

  const killEverything = () => {
    for (const part of parts) {
      for (const pid of part.pids?.() ?? []) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
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
