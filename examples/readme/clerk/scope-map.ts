import { clerkVerifier } from '@agentkey/clerk';

const machineSecretKey = 'ak_readme_machine_secret';

// #region readme
clerkVerifier({
  machineSecretKey,
  // Grants the union of the entries for the machine ids on the token. No match grants [].
  scopeMap: { mch_reports_api: ['reports:read'], mch_billing_api: ['billing:write'] },
});

clerkVerifier({
  machineSecretKey,
  // Or decide from the whole verified token. Return null to set no limit.
  scopeMap: (token) => (token.subject === 'mch_cron' ? ['jobs:run'] : null),
});
// #endregion readme

console.log('both scopeMap forms are accepted');
