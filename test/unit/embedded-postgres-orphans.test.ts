import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeOrphanClusters } from '../../lib/runtime/embedded-postgres.ts';

describe('embedded PostgreSQL clusters kept under /var/lib for root', () => {
  it('removes a cluster whose temporary data dir is gone; keeps one whose data dir exists, whose server runs, or that lived outside the temporary folder', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'kn-orphans-'));
    const logged: string[] = [];
    const alive = mkdtempSync(path.join(os.tmpdir(), 'kn-owner-'));
    const cluster = (name: string, owner: string, pid?: number) => {
      mkdirSync(path.join(base, name, 'pgdata'), { recursive: true });
      writeFileSync(path.join(base, name, 'OWNER'), `${owner}\n`);
      if (pid) writeFileSync(path.join(base, name, 'pgdata', 'postmaster.pid'), `${pid}\n/x\n`);
    };
    cluster('orphan', path.join(alive, 'deleted-checkout'));
    cluster('owned', alive);
    cluster('running', path.join(alive, 'also-deleted'), process.pid);
    cluster('elsewhere', '/srv/unmounted-disk/kaspi-notify/.data');
    mkdirSync(path.join(base, 'pg-18.4.0')); // the shared binaries: no OWNER, never touched

    removeOrphanClusters(base, (line) => logged.push(line));

    expect(existsSync(path.join(base, 'orphan'))).toBe(false);
    expect(existsSync(path.join(base, 'owned'))).toBe(true);
    expect(existsSync(path.join(base, 'running'))).toBe(true);
    expect(existsSync(path.join(base, 'elsewhere'))).toBe(true);
    expect(existsSync(path.join(base, 'pg-18.4.0'))).toBe(true);
    expect(logged).toEqual([expect.stringContaining('deleted-checkout')]);
  });
});
