/**
 * `npm run replay -- --workflow-id <id>` or `npm run replay -- --query '<visibility query>'`:
 * downloads histories from the configured Temporal (TEMPORAL_ADDRESS, else ./.data/runtime.json
 * written by `npm start`) and replays them against the workflow code in this checkout.
 *   npm run replay -- --workflow-id 'notify:<storeId>:<orderCode>:new'
 *   npm run replay -- --query "WorkflowType = 'notificationWorkflow' AND ExecutionStatus = 'Running'"
 *   npm run replay -- --dir test/replay/histories        (saved JSON histories, no Temporal needed)
 * Prints OK / FAIL per workflow run; exit 0 all replayed, 1 any failure, 2 usage.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Connection, Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { resolveConnections } from '../lib/runtime/state.ts';
import { formatVerdict, historiesFromTemporal, loadSavedHistories, replayHistories, type ReplayVerdict } from '../lib/temporal/replay.ts';

const USAGE = `usage: npm run replay -- (--workflow-id ID | --query 'VISIBILITY QUERY' | --dir FOLDER) [--namespace NS]`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  let values: { 'workflow-id'?: string; query?: string; dir?: string; namespace?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { 'workflow-id': { type: 'string' }, query: { type: 'string' }, dir: { type: 'string' }, namespace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    }));
  } catch (e) {
    err(`error: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    say(USAGE);
    return 0;
  }
  if (!values['workflow-id'] && values.query === undefined && !values.dir) {
    err(`error: give --workflow-id, --query or --dir\n${USAGE}`);
    return 2;
  }
  // The SDK logs bundling at INFO; only problems matter here.
  Runtime.install({ logger: new DefaultLogger('WARN') });

  let verdicts: ReplayVerdict[];
  if (values.dir) {
    verdicts = await replayHistories(loadSavedHistories(path.resolve(values.dir)));
  } else {
    const { temporalAddress } = resolveConnections(process.env, process.env.DATA_DIR?.trim() || '.data');
    const namespace = values.namespace ?? process.env.TEMPORAL_NAMESPACE?.trim() ?? 'default';
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      const client = new Client({ connection, namespace });
      err(`Replaying histories from ${temporalAddress} (namespace ${namespace}) against ./workflows …`);
      verdicts = await replayHistories(historiesFromTemporal(client, { workflowId: values['workflow-id'], query: values.query }));
    } finally {
      await connection.close();
    }
  }
  for (const v of verdicts) say(formatVerdict(v));
  const failed = verdicts.filter((v) => !v.ok).length;
  say(`${verdicts.length} replayed, ${verdicts.length - failed} OK, ${failed} failed`);
  if (verdicts.length === 0) err('nothing matched: check the workflow id or the query');
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    err(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
