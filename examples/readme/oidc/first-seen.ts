import { oidcVerifier } from '@agentkey/oidc';

// #region readme
oidcVerifier({
  issuer: 'https://login.example.com/',
  audience: 'https://api.example.com',
  firstSeen: { scopes: ['read'], budgetCents: 500, budgetPeriod: 'month' },
  accountClaim: 'org_id', // optional: budget per organisation
});
// #endregion readme

console.log('the first-seen policy and accountClaim are accepted');
