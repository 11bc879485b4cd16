import { DEFAULT_TIMEOUT_MS } from '../../src/db/deadline.js';
import type { Statement } from '../../src/db/queryable.js';
import { adminStatements, periodSets } from '../../src/sql/admin.js';
import type { Selector } from '../../src/sql/columns.js';
import { tableNames } from '../../src/sql/identifier.js';
import { schemaSteps } from '../../src/sql/migrate.js';
import { readStatements } from '../../src/sql/reads.js';
import { statements } from '../../src/sql/statements.js';

const SELECTORS: Selector[] = ['key_hash', 'external_subject'];
const text = (s: string | Statement) => (typeof s === 'string' ? s : s.text);

/** Every statement the request path and the admin API send, named, for one ledger setting. */
export function renderStatements(tableName: string, ledger: boolean): Array<[string, string]> {
  const t = tableNames(tableName);
  const s = statements(t, ledger, DEFAULT_TIMEOUT_MS);
  const admin = adminStatements(t);
  const out: Array<[string, string | Statement]> = [];
  for (const by of SELECTORS) {
    out.push(
      [`charges.plain(${by})`, s.charges.plain(by, false)],
      [`charges.plain(${by}, slim)`, s.charges.plain(by, true)],
      [`charges.account(${by})`, s.charges.account(by)],
      [`charges.batch(${by})`, s.charges.batch(by)],
      [`charges.batch(${by}, wait)`, s.charges.batch(by, true)],
      [`holds.reserve(${by})`, s.holds.reserve(by)],
      [`holds.reserveBatch(${by})`, s.holds.reserveBatch(by)],
      [`holds.reserveBatch(${by}, wait)`, s.holds.reserveBatch(by, true)],
      [`peek(${by})`, s.peek(by)],
      [`peekMany(${by})`, s.peekMany(by)],
      [`touch(${by})`, s.touch(by)],
    );
  }
  for (const by of [...SELECTORS, 'id' as const]) {
    out.push([`read(${by})`, s.read(by)], [`revoke(${by})`, s.revoke(by)]);
  }
  out.push(
    ['holds.close', s.holds.close],
    ['holds.closeBatch', s.holds.closeBatch],
    ['holds.closeBatchWait', s.holds.closeBatchWait],
    ['engineCharge', s.engineCharge],
    ['engineClose', s.engineClose],
    ['voidRequest', s.voidRequest],
    ['pruneRequests', s.pruneRequests],
    ['insert', s.insert],
    ['insertSubject', s.insertSubject],
    ['listByAccount', s.listByAccount],
    ['listSubjects', s.listSubjects],
    ['periodSets', periodSets('$1', '$2', '$3').join(',\n')],
  );
  // Admin statements by name, so one added or removed is rendered without a change here.
  for (const [name, value] of Object.entries(admin)) {
    if (typeof value === 'string') out.push([`admin.${name}`, value]);
    else if (name === 'spend') {
      for (const column of ['principal_id', 'subject', 'account_id'] as const)
        out.push([`admin.spend(${column})`, admin.spend(column)]);
    } else out.push([`admin.${name}`, (value as (kind: string) => string)('admin:example')]);
  }
  for (const [name, sql] of Object.entries(readStatements(t))) out.push([`reads.${name}`, sql]);
  return out.map(([name, sql]) => [name, text(sql)]);
}

/** Everything migrate() may apply for the table, then every statement (ledger on): one SQL text. */
export function renderAll(tableName: string): string {
  const steps = schemaSteps(tableNames(tableName)).map((s) => `-- migrate(): ${s.name}\n${s.sql.trim()}\n`);
  const sent = renderStatements(tableName, true).map(
    ([name, sql]) => `-- statement: ${name}\n${sql.trim()};\n`,
  );
  return `${[...steps, ...sent].join('\n')}`;
}
