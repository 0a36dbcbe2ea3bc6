/**
 * Node/V8 flags of a worker process: `node <WORKER_NODE_FLAGS> dist/bin/worker.js` (docker-compose.yml,
 * `npm run cluster` via lib/runtime/cluster.ts, `npm run worker`; the bench runs its workers with
 * them too). Chosen from the figures in bench/RESULTS.md ("Worker memory with 10,000 notifications
 * awaiting acks"). They apply to every V8 isolate of the process, the workflow thread included.
 *
 * - `--max-old-space-size=384`: with the default limit (a quarter of the machine's memory) V8 lets a
 *   heap grow to up to 4× what survived its last full GC before collecting again; under a 512 MB
 *   limit it grows by ~1.35×. The main thread keeps 40–75 MB alive, the workflow thread ~20 MB plus
 *   ~75 KB per cached workflow (~170 MB at WORKER_MAX_CACHED_WORKFLOWS' maximum of 2000).
 * - `--max-semi-space-size=2`: the young generation of each isolate is 2 × 2 MB instead of 2 × 16 MB.
 *   Alone it made things worse (more is promoted into an old space that may grow 4×); with the limit
 *   above the two took ~115 MB off a worker with 2,000 notifications waiting, at no measured CPU cost.
 *
 * `--optimize-for-size` took ~55 MB more off but cost the worker 60 % more CPU per notification.
 * Both flags here are also accepted in NODE_OPTIONS, for a worker started some other way.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--max-old-space-size=384'];

/**
 * Environment of a worker process. glibc gives threads that allocate at the same time arenas of
 * their own (up to 8 per core), and memory freed in one stays with it; the Rust core and V8 run
 * several threads each. Two arenas kept the worker ~30 MB smaller while 2,000 notifications waited
 * and ~85 MB smaller once they were done. glibc reads it at process start, so whoever starts the
 * worker sets it (compose, lib/runtime/cluster.ts, `npm run worker`).
 */
export const WORKER_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
