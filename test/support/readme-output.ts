import { readmeFences } from './readme-run.js';

/** The marker above a README block that shows what a command prints. */
export const OUTPUT_MARKER = /^<!-- output: (.+) -->$/;

/** The README's block that shows what `command` prints, or null. */
export function readmeOutput(command: string, readme = 'README.md'): string | null {
  const fence = readmeFences(readme).find((f) => OUTPUT_MARKER.exec(f.above)?.[1] === command);
  return fence ? fence.text : null;
}

/**
 * A gateway banner as the README shows it: default port, the default folder, keys and the dev
 * client's secret elided — the parts that differ on every run.
 */
export function bannerAsShown(banner: string, dataDir: string): string {
  const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)?.[1];
  let text = banner.split(dataDir).join('.agentkey');
  if (port) text = text.split(`127.0.0.1:${port}`).join('127.0.0.1:8787');
  return text
    .replace(/\bak_[0-9a-f]{48}\b/g, 'ak_…')
    .replace(/demo-agent:[A-Za-z0-9_-]+'/g, "demo-agent:…'")
    .trimEnd();
}
