import { token as minted } from '../support.js';

const bearerToken = minted('CLERK');

// #region readme
import { clerkVerifier } from '@agentkey/clerk';

const clerk = clerkVerifier({ machineSecretKey: process.env.CLERK_MACHINE_SECRET_KEY });

const result = await clerk.verify(bearerToken);
if (result.ok)
  console.log(result.identity.subject); // 'clerk|mch_2x…'
else console.log(result.error.code); // 'invalid_token' | 'unavailable'
// #endregion readme
