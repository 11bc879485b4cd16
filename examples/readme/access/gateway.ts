import { Access, accessRoutes } from '@agentkey/access';
import { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
const access = new Access({ ak, pool }); // seals with AGENTKEY_SECRET_KEYS=k1:<32 bytes, base64>
await ak.migrate();
await access.migrate();

const alice = { kind: 'human', id: 'alice' } as const;
const github = { id: 'github', name: 'GitHub', baseUrl: 'https://api.github.com/', methods: ['GET'] };
await access.defineTool({ ...github, pathPrefixes: ['/repos/'], costCents: 0.5 }, alice);
await access.setSecret('github', process.env.GITHUB_TOKEN!, alice);

const app = express();
app.use(accessRoutes({ access, auth: agentKeyAuth({ agentKey: ak }) }));
app.listen(3000);
