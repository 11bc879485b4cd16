import type { AgentKey } from '@agentkey/core';
import type { Request, Response } from 'express';
import { guard } from './guard.js';
import type { ResolvedRoutesOptions } from './route-options.js';
import './request.js';

/** A whole number, as 0.2.0 read it; one that no SERIAL id can be (0, -1, 2^31) is simply not found. */
const NUMERIC = /^-?[0-9]+$/;
const isKeyId = (n: number) => Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647;

/** `DELETE /sdk-keys/:id`: revokes a live key of the caller's own account; any other id is 404. */
export function revokeKeyHandler(ak: Pick<AgentKey, 'revoke'>, options: ResolvedRoutesOptions) {
  return guard(
    'DELETE /sdk-keys/:id',
    'Failed to revoke key',
    options.onError,
    async (req: Request, res: Response) => {
      const id = String(req.params.id ?? '');
      if (!NUMERIC.test(id)) {
        res.status(400).json({ error: 'Invalid key ID' });
        return;
      }
      const keyId = Number(id);
      // Scoped to the caller's account in the same statement: ids of other accounts are not even confirmed to exist.
      if (isKeyId(keyId) && (await ak.revoke(keyId, req.agentKey!.accountId))) res.json({ revoked: true });
      else res.status(404).json({ error: 'Key not found' });
    },
  );
}
