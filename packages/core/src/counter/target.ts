import type { CounterTarget } from './port.js';

/**
 * What an admin change of one row touched, as the counter names it: the row's account, so every
 * process's mirrors of that account stop being trusted at once (a process that never served the
 * row cannot name its account itself); the key alone only for a row without an account.
 */
export function rowTarget(accountId: string | null | undefined, keyId: number): CounterTarget {
  return accountId ? { accountId } : { keyId };
}
