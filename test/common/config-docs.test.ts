import { readFile } from 'node:fs/promises';
import { t } from 'tap';
import { GatewaySettings, NodeSettings, knownEnvVars, settingsOf } from '../../src/common/index.js';
import { settingsTable } from '../../src/common/config-docs.js';
import { README, tableIn } from './settings-table.js';

t.test('deploy/README.md holds the settings table printed from the schema (npm run docs:settings)', async (t) => {
  t.equal(tableIn(await readFile(README, 'utf8')), settingsTable());
});

t.test('the table has a row for every variable, and every documented setting carries a variable or is file-only', async (t) => {
  const table = settingsTable();
  for (const name of knownEnvVars()) t.match(table, `\`${name}\``, `${name} has a row`);
  for (const [role, schema] of [['node', NodeSettings], ['gateway', GatewaySettings]] as const) {
    for (const { key, node } of settingsOf(schema)) {
      if (node.doc !== undefined) t.match(table, `\`${key}\``, `${role} ${key} has a row`);
      if (node.default !== undefined) t.ok(node.doc !== undefined || node.env === undefined, `${role} ${key}: a setting with a variable has a row`);
    }
  }
});
