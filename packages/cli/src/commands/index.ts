import { accountsGroup } from './accounts.js';
import { auditGroup } from './audit.js';
import { budgetGroup } from './budget.js';
import { consoleGroup } from './console.js';
import { grantsGroup } from './grants.js';
import type { CommandGroup } from './group.js';
import { holdsGroup } from './holds.js';
import { keysGroup } from './keys.js';
import { ledgerGroup } from './ledger.js';
import { migrateGroup } from './migrate.js';
import { requestsGroup } from './requests.js';
import { secretsGroup } from './secrets.js';
import { subjectsGroup } from './subjects.js';
import { suggestionsGroup } from './suggestions.js';
import { toolsGroup } from './tools.js';
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
  toolsGroup,
  requestsGroup,
  grantsGroup,
  suggestionsGroup,
  secretsGroup,
  auditGroup,
];
