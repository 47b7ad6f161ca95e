import { readFileSync } from 'node:fs';

/** One console asset: its media type and bytes. */
export interface ConsoleAsset {
  type: string;
  body: Buffer;
}

/** The console's files (src/gateway/http/console/, copied beside the compiled code by the build), by name. */
const ASSET_TYPES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
};

/**
 * The web console's assets, shipped inside the package as plain files (no build step of their own, no
 * CDN, nothing fetched from elsewhere at run time): one HTML page, its stylesheet and a script without
 * dependencies. Read once, when the console is registered; a missing file fails the gateway's start.
 */
export function loadConsoleAssets(): ReadonlyMap<string, ConsoleAsset> {
  const folder = new URL('./console/', import.meta.url);
  return new Map(Object.entries(ASSET_TYPES).map(([name, type]) => [name, { type, body: readFileSync(new URL(name, folder)) }]));
}
