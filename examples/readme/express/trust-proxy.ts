import express from 'express';

const app = express();

// #region readme
app.set('trust proxy', 1); // or 'loopback', a subnet list: see Express's "behind proxies" guide
// #endregion readme

console.log(`trust proxy: ${app.get('trust proxy')}`);
