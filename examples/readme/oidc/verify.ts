import { token as minted } from '../support.js';

const token = minted('OIDC');

// #region readme
import { oidcVerifier } from '@agentkey/oidc';

const verifier = oidcVerifier({ issuer: 'https://login.example.com/', audience: 'https://api.example.com' });

const result = await verifier.verify(token);
if (result.ok) console.log(result.identity.subject, result.identity.scopes);
else console.log(result.error.code, result.error.description); // 'invalid_token' | 'unavailable'
// #endregion readme
