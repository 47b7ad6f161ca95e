import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { settingsTable } from '../../src/common/config-docs.js';
import { repoFile } from '../helpers/tree.js';

/**
 * deploy/README.md's settings table lives between these markers and is printed from the settings
 * schema. `npm run docs:settings` rewrites it; config-docs.test.ts fails while it differs.
 */
export const README = repoFile('deploy/README.md');
const BEGIN = '<!-- settings table: printed from src/common/config-schema.ts by `npm run docs:settings`; do not edit by hand -->\n';
const END = '<!-- end of settings table -->\n';

/** The table the README holds now, or null when its markers are missing. */
export function tableIn(readme: string): string | null {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  return begin === -1 || end < begin ? null : readme.slice(begin + BEGIN.length, end);
}

/** The README with the schema's table in place of the one it holds. */
export function withTable(readme: string, table: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin === -1 || end < begin) throw new Error(`deploy/README.md has no settings table markers (${BEGIN.trim()} ... ${END.trim()})`);
  return readme.slice(0, begin + BEGIN.length) + table + readme.slice(end);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(README, withTable(await readFile(README, 'utf8'), settingsTable()));
}
