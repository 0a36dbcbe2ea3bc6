import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { HistoryAndWorkflowId } from '@temporalio/common';
import proto from '@temporalio/proto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { defaultWorkflowSource } from './worker.ts';

/**
 * Replays workflow histories against the current workflow code: the check that a change to
 * workflows/*.ts does not break executions that are already running (docs/operations.md).
 * Used by `npm run replay` (histories downloaded from the configured Temporal) and by
 * test/replay/replay.test.ts (histories saved under test/replay/histories/).
 */

export type ReplayVerdict =
  | { workflowId: string; runId: string; ok: true }
  | { workflowId: string; runId: string; ok: false; kind: 'determinism' | 'replay'; message: string };

export interface ReplaySource {
  /** Workflow code to replay against: the worker's workflows by default. */
  workflowsPath?: string;
  workflowBundle?: ReplayWorkerOptions['workflowBundle'];
}

/** Replays every history, one at a time, and says for each whether the current code accepts it. */
export async function replayHistories(
  histories: AsyncIterable<HistoryAndWorkflowId> | Iterable<HistoryAndWorkflowId>,
  source: ReplaySource = {},
): Promise<ReplayVerdict[]> {
  const options: ReplayWorkerOptions = {
    ...(source.workflowBundle ? { workflowBundle: source.workflowBundle } : source.workflowsPath ? { workflowsPath: source.workflowsPath } : defaultWorkflowSource()),
    replayName: 'kaspi-notify-replay',
  };
  const verdicts: ReplayVerdict[] = [];
  for await (const result of Worker.runReplayHistories(options, histories)) {
    if (!result.error) {
      verdicts.push({ workflowId: result.workflowId, runId: result.runId, ok: true });
      continue;
    }
    const kind = result.error instanceof DeterminismViolationError ? 'determinism' : 'replay';
    verdicts.push({ workflowId: result.workflowId, runId: result.runId, ok: false, kind, message: result.error.message });
  }
  return verdicts;
}

/** One workflow's history (its latest run) or every workflow a visibility query finds. */
export async function* historiesFromTemporal(client: Client, select: { workflowId?: string; query?: string }): AsyncIterable<HistoryAndWorkflowId> {
  if (select.workflowId) {
    const history = await client.workflow.getHandle(select.workflowId).fetchHistory();
    yield { workflowId: select.workflowId, history };
  }
  if (select.query !== undefined) {
    yield* client.workflow.list({ query: select.query }).intoHistories();
  }
}

/**
 * Histories saved as JSON (`history.toJSON()` / `temporal workflow show --output json`) under a
 * folder, recursively. The workflow id of each is its path relative to the folder, without `.json`.
 */
export function loadSavedHistories(dir: string): HistoryAndWorkflowId[] {
  const found: HistoryAndWorkflowId[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.json')) {
        const workflowId = path.relative(dir, full).replace(/\.json$/, '').split(path.sep).join('/');
        found.push({ workflowId, history: historyFromFile(full) });
      }
    }
  };
  walk(dir);
  return found;
}

/**
 * A saved history as the replayer wants it. The files are protobuf's own JSON of the History
 * (`history.toJSON()`: enum names, int64 as strings), which `History.fromObject` reads back.
 * (`historyFromJSON` of @temporalio/common fails in this install: it loads a second copy of
 * protobufjs — "type must be a Type".)
 */
export function historyFromFile(file: string): proto.temporal.api.history.v1.History {
  return proto.temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
}

/** One line per workflow, for people: `OK  id` or `FAIL id: DeterminismViolationError: …`. */
export function formatVerdict(v: ReplayVerdict): string {
  if (v.ok) return `OK    ${v.workflowId} (run ${v.runId})`;
  const label = v.kind === 'determinism' ? 'DeterminismViolationError' : 'ReplayError';
  return `FAIL  ${v.workflowId} (run ${v.runId})\n      ${label}: ${v.message}`;
}
