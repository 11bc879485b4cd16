import { Access } from '@agentkey/access';
import { agentKeyConsole } from '@agentkey/console';
import { AgentKey } from '@agentkey/core';
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
const access = new Access({ ak, pool }); // AGENTKEY_SECRET_KEYS, as in @agentkey/access
await ak.migrate();
await access.migrate();

// #region readme
const app = express();
app.use('/agentkey', agentKeyConsole({ agentKey: ak, pool, access }));
app.listen(3000); // sign in at /agentkey with an ak_ key whose scopes name console:admin
// #endregion readme
