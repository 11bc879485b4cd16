import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Access } from '@agentkey/access';
import { agentKeyConsole } from '@agentkey/console';
import { AgentKey } from '@agentkey/core';
import express from 'express';
import pg from 'pg';
import { fillConsoleData, HOT_ROWS, KEYS, LEDGER } from './console-data.js';

/** Every page must answer within this at 100k keys / 1M ledger rows (the bound). */
export const TARGET_MS = 100;
const SAMPLES = 50;

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Signs in over HTTP as a browser would (form token, then the session cookie). */
async function signIn(url: string, key: string): Promise<string> {
  const form = await fetch(`${url}/signin`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${url}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: form.headers.getSetCookie()[0]!.split(';')[0]!,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ _csrf: csrf, key }).toString(),
  });
  const session = res.headers.getSetCookie().find((l) => l.startsWith('akc_session='));
  if (res.status !== 303 || !session) throw new Error(`console bench: sign-in answered ${res.status}`);
  return session.split(';')[0]!;
}

/**
 * `pnpm bench --only console`: the console's pages over HTTP on 100,000 keys and 1,000,000 ledger
 * rows made with SQL, each page fetched 50 times one after another (after 3 warm-ups), p50/p99.
 */
export async function consoleBench(url: string): Promise<string> {
  const schema = `bench_console_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const server = createServer();
  try {
    const table = `${schema}.keys`;
    const ak = new AgentKey({ pool, tableName: table });
    await ak.migrate();
    const access = new Access({ ak, pool, secretKeys: `k1:${randomBytes(32).toString('base64')}` });
    await access.migrate();
    const hot = await ak.create({ accountId: 'acct-1', name: 'hot-key', budgetCents: 100_000 });
    const human = { kind: 'human', id: 'bench' } as const;
    await access.defineTool(
      {
        id: 'github',
        name: 'GitHub',
        baseUrl: 'https://api.github.com/',
        methods: ['GET'],
        pathPrefixes: ['/'],
      },
      human,
    );
    const filled = performance.now();
    await fillConsoleData(admin, table, 'github');
    const fillSec = ((performance.now() - filled) / 1000).toFixed(0);
    const key = await ak.create({ accountId: 'ops', name: 'bench admin', scopes: ['console:admin'] });
    const app = express();
    app.use('/agentkey', agentKeyConsole({ agentKey: ak, pool, access }));
    server.on('request', app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agentkey`;
    const cookie = await signIn(base, key.key);
    const pages: Array<[string, string]> = [
      ['overview', '/'],
      ['keys, first page', '/keys'],
      ['keys, a page deep in the list (keyset)', '/keys?before=600'],
      ['keys, search "worker-99999"', '/keys?q=worker-99999'],
      ['keys, search with no match', '/keys?q=nobody-here'],
      ['keys, filter account', '/keys?account=acct-7'],
      ['keys, filter issuer', `/keys?issuer=${encodeURIComponent('https://idp1.test')}`],
      ['keys, filter revoked subjects', '/keys?status=revoked&kind=subject'],
      ['one key (~10 ledger rows)', '/keys/4242'],
      [`hot key (${HOT_ROWS.toLocaleString('en')} ledger rows), by hour`, `/keys/${hot.id}`],
      ['hot key, by day (30 d)', `/keys/${hot.id}?by=day`],
      ['a pool root with children', '/keys/150'],
      ['accounts', '/accounts'],
      ['approvals (50 pending)', '/approvals'],
      ['tools, grants, suggestions', '/tools'],
      ['audit log (100k rows)', '/audit'],
      ['audit log, filter agent', '/audit?agent=7'],
      ['audit log, filter tool and date', '/audit?tool=github&from=2026-01-01'],
    ];
    const rows: string[] = [];
    let missed = 0;
    for (const [label, path] of pages) {
      const times: number[] = [];
      for (let i = 0; i < SAMPLES + 3; i++) {
        const t0 = performance.now();
        const res = await fetch(`${base}${path}`, { headers: { cookie } });
        await res.text();
        if (res.status !== 200) throw new Error(`console bench: ${path} answered ${res.status}`);
        if (i >= 3) times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      const p99 = pct(times, 99);
      if (p99 >= TARGET_MS) missed++;
      rows.push(
        `| ${label.padEnd(44)} | ${pct(times, 50).toFixed(1).padStart(6)} | ${p99.toFixed(1).padStart(6)} | ${p99 < TARGET_MS ? 'met' : 'MISSED'} |`,
      );
    }
    const version = (await admin.query('SHOW server_version')).rows[0].server_version;
    return [
      `agentkey console bench — ${new Date().toISOString()}, node ${process.version}, PostgreSQL ${version}`,
      `${KEYS.toLocaleString('en')} keys and subjects, ${LEDGER.toLocaleString('en')} ledger rows, 1,000 accounts, 1,000 open holds, 100,000 audit rows (made in ${fillSec} s with SQL);`,
      `each page over HTTP, ${SAMPLES} sequential requests after 3 warm-ups, signed in; target p99 < ${TARGET_MS} ms`,
      '',
      `| page                                         | p50 ms | p99 ms | < ${TARGET_MS} ms |`,
      '| -------------------------------------------- | -----: | -----: | ------ |',
      ...rows,
      '',
      missed === 0 ? 'every page met the target' : `${missed} page(s) MISSED the target`,
    ].join('\n');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await pool.end();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}
