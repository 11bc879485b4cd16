import type { AgentKey } from '@agentkey/core';
import type { Request, Response } from 'express';
import { guard } from './guard.js';
import type { ResolvedRoutesOptions } from './route-options.js';
import './request.js';

/** Key ids are SERIAL: 1 to 2^31 - 1, written in plain digits. */
const KEY_ID = /^[0-9]{1,10}$/;

/** `DELETE /sdk-keys/:id`: revokes a live key of the caller's own account; any other id is 404. */
export function revokeKeyHandler(ak: Pick<AgentKey, 'revoke'>, options: ResolvedRoutesOptions) {
  return guard(
    'DELETE /sdk-keys/:id',
    'Failed to revoke key',
    options.onError,
    async (req: Request, res: Response) => {
      const id = String(req.params.id ?? '');
      if (!KEY_ID.test(id)) {
        res.status(400).json({ error: 'Invalid key ID' });
        return;
      }
      // Scoped to the caller's account in the same statement: ids of other accounts are not even confirmed to exist.
      if (await ak.revoke(Number(id), req.agentKey!.accountId)) res.json({ revoked: true });
      else res.status(404).json({ error: 'Key not found' });
    },
  );
}
