// Counts the SQL statements a process sends through `pg`, by statement text, for the bench's
// "PostgreSQL work per notification" (bench/lib/pg-work.ts). Loaded into every Node process of a
// run with NODE_OPTIONS="--import ./bench/lib/pg-count.mjs" (the worker processes inherit the
// bench's environment), so neither the product nor the worker's entry point changes to be counted.
// Plain JavaScript: the worker runs the production build with plain node, without a TS loader.
//
// With KN_PG_COUNT_DIR set, each process writes its counts to <dir>/pg-count-<pid>.json every
// second and at exit; the bench reads the worker's file before and after a figure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

const require = createRequire(import.meta.url);
// The same CJS module instance the product's `import pg from 'pg'` gets (one require cache).
const pg = require('pg');

/** text → count; parameters are $n placeholders, so one statement shape is one key. */
const counts = new Map();
let total = 0;
globalThis[Symbol.for('kaspi-notify.bench.pgCount')] = { counts, get total() { return total; } };

const original = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(config, ...rest) {
  const text = typeof config === 'string' ? config : typeof config?.text === 'string' ? config.text : '<submittable>';
  const key = text.replace(/\s+/g, ' ').trim().slice(0, 160);
  counts.set(key, (counts.get(key) ?? 0) + 1);
  total++;
  return original.call(this, config, ...rest);
};

// NODE_OPTIONS' --import also runs in worker threads (the SDK's workflow threads, which send no
// SQL): only the main thread may write the process's file, or it would overwrite it with zeros.
const dir = isMainThread ? process.env.KN_PG_COUNT_DIR : undefined;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `pg-count-${process.pid}.json`);
  const write = () => {
    try {
      writeFileSync(file, JSON.stringify({ pid: process.pid, total, counts: Object.fromEntries(counts) }));
    } catch {
      // A full disk must not fail the process being measured.
    }
  };
  setInterval(write, 1000).unref();
  process.on('exit', write);
}
