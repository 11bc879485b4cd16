import type { AgentKeyPrincipal as Exported } from '@agentkey/express';

// #region readme
interface AgentKeyPrincipal {
  kind: 'key' | 'subject';
  id: number;
  subject: string | null; // null for keys
  accountId: string;
  userId: string | null;
  name: string;
  scopes: string[] | null; // row ∩ token; null: no limit
  expiresAt: Date | null; // earlier of row and token
  delegatedBy: string | null;
  verifier: string; // 'native' | the verifier's id
  claims: Readonly<Record<string, unknown>>; // the token's; {} for keys
  budget: {
    limitCents: number | null;
    usedCents: number;
    heldCents: number; // open holds
    remainingCents: number | null; // what a new call could use: cap − used − held
    period: string | null;
    resetAt: Date | null;
  }; // after this charge
  chargedCents: number;
  hold?: { id: string; amountCents: number; expiresAt: Date }; // with the `hold` option
  replayed?: boolean; // with `idempotencyKey`: a repeat, nothing more charged
}
// #endregion readme

// The README's shape is the exported type, field for field: each must be assignable to the other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same: Same<AgentKeyPrincipal, Exported> & Same<keyof AgentKeyPrincipal, keyof Exported> = true;
console.log(`the README's principal is the exported AgentKeyPrincipal: ${same}`);
