import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { loadSavedHistories, replayHistories } from '../../lib/temporal/replay.ts';

/**
 * Every saved history (test/replay/histories, recorded by record-histories.ts) must replay against
 * the current workflow code: a change that would break running workflows fails here, in CI.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const HISTORIES = path.join(here, 'histories');
const bundle = () => ({ code: readFileSync(inject('workflowBundlePath'), 'utf8') });
const tmpDirs: string[] = [];
// The replay workers log their start/stop at INFO; only problems are worth seeing.
Runtime.install({ logger: new DefaultLogger('ERROR') });
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

describe('saved workflow histories', () => {
  const saved = loadSavedHistories(HISTORIES);

  it('cover every workflow path named in the issue', () => {
    const ids = saved.map((h) => h.workflowId);
    for (const name of [
      'notification/normal', 'notification/resent', 'notification/paced-wait', 'notification/session-not-ready',
      'notification/ack-timeout-lookup', 'notification/opt-out-skip', 'notification/expired-skip',
      'kaspi-poll/children-superseded', 'reconcile/reconcile-schedules',
    ]) expect(ids).toContain(name);
  });

  it('replay against the current workflows without a determinism error', async () => {
    const verdicts = await replayHistories(saved, { workflowBundle: bundle() });
    expect(verdicts).toHaveLength(saved.length);
    expect(verdicts.filter((v) => !v.ok)).toEqual([]);
  });

  it('a deliberately non-deterministic change is caught (DeterminismViolationError)', async () => {
    // A copy of workflows/ where the notification workflow sleeps before its first activity:
    // new commands in front of what the history recorded — the classic unsafe edit.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'kaspi-notify-altered-'));
    tmpDirs.push(tmp);
    symlinkSync(path.join(repo, 'node_modules'), path.join(tmp, 'node_modules'), 'dir');
    const wf = path.join(tmp, 'workflows');
    cpSync(path.join(repo, 'workflows'), wf, { recursive: true });
    const file = path.join(wf, 'notification.ts');
    const original = readFileSync(file, 'utf8');
    const marker = 'const prepared = await prepareNotification({ notificationId });';
    expect(original).toContain(marker);
    writeFileSync(file, original.replace(marker, `await sleep(1);\n  ${marker}`));
    expect(readdirSync(wf)).toContain('index.ts');
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(wf, 'index.ts'), logger: new DefaultLogger('WARN') });

    const normal = loadSavedHistories(HISTORIES).filter((h) => h.workflowId === 'notification/normal');
    const [verdict] = await replayHistories(normal, { workflowBundle: { code } });
    expect(verdict).toMatchObject({ ok: false, kind: 'determinism' });
    expect(verdict && !verdict.ok ? verdict.message : '').toMatch(/nondetermin|determinism/i);
  });
});
