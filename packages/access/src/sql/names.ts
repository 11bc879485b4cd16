import type { TableNames } from '@agentkey/core';

/** The access package's tables, named from the keys table (core validates and quotes the names). */
export interface AccessNames {
  tools: string;
  grants: string;
  suggest: string;
  slips: string;
  audit: string;
  version: string;
}

export function accessNames(t: TableNames): AccessNames {
  return {
    tools: t.derived('_access_tools'),
    grants: t.derived('_access_grants'),
    suggest: t.derived('_access_suggest'),
    slips: t.derived('_access_slips'),
    audit: t.derived('_access_audit'),
    version: t.derived('_access_version'),
  };
}
