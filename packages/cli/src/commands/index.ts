import { accountsGroup } from './accounts.js';
import { budgetGroup } from './budget.js';
import { consoleGroup } from './console.js';
import type { CommandGroup } from './group.js';
import { holdsGroup } from './holds.js';
import { keysGroup } from './keys.js';
import { ledgerGroup } from './ledger.js';
import { migrateGroup } from './migrate.js';
import { subjectsGroup } from './subjects.js';
import { usageGroup } from './usage.js';

/** Every command group, in the order `--help` lists them. A new group is its file and a line here. */
export const GROUPS: readonly CommandGroup[] = [
  migrateGroup,
  keysGroup,
  subjectsGroup,
  accountsGroup,
  budgetGroup,
  holdsGroup,
  usageGroup,
  ledgerGroup,
  consoleGroup,
];
