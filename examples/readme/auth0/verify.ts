import { token as minted } from '../support.js';

const token = minted('AUTH0');

// #region readme
import { auth0Verifier } from '@agentkey/auth0';

const verifier = auth0Verifier({ domain: 'example.eu.auth0.com', audience: 'https://api.example.com' });

const result = await verifier.verify(token);
if (result.ok) console.log(result.identity.subject); // 'example.eu.auth0.com|<client id>'
// #endregion readme
