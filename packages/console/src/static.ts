import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';

interface Asset {
  type: string;
  body: Buffer;
}

/** The package's assets/ folder, from src/ (sources) or dist/esm/ (the build) alike. */
function assetsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'assets', 'console.js'))) return join(dir, 'assets');
    dir = dirname(dir);
  }
  throw new Error('@agentkey/console: its assets/ folder is missing from the package');
}

/**
 * The files pages link to, read once: the console's own script and styles, and uPlot's build from
 * node_modules (a dependency, so nothing is bundled or built by the user). Nothing else is served.
 */
export function loadAssets(): Map<string, Asset> {
  const own = assetsDir();
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map([
    ['console.js', { type: js, body: readFileSync(join(own, 'console.js')) }],
    ['console.css', { type: css, body: readFileSync(join(own, 'console.css')) }],
    ['uPlot.iife.min.js', { type: js, body: readFileSync(join(uplot, 'uPlot.iife.min.js')) }],
    ['uPlot.min.css', { type: css, body: readFileSync(join(uplot, 'uPlot.min.css')) }],
  ]);
}

export function serveAsset(assets: Map<string, Asset>) {
  return (req: Request, res: Response) => {
    const asset = assets.get(String(req.params.file));
    if (!asset) return res.status(404).type('text').send('Not found.');
    res.set({ 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=3600' }).send(asset.body);
  };
}
