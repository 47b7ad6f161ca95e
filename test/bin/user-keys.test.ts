import { t } from 'tap';
import { newAccessKeyId, newSecretKey } from '../../src/bin/user-cli.js';

t.test('new secret keys are 40 letters and digits, so no client reads one as a command-line option', async (t) => {
  const seen = new Set<string>();
  const firstCharacters = new Set<string>();
  for (let i = 0; i < 2_000; i += 1) {
    const key = newSecretKey();
    if (!/^[A-Za-z0-9]{40}$/.test(key)) t.fail(`secret key ${JSON.stringify(key)} has another shape`);
    seen.add(key);
    firstCharacters.add(key[0] as string);
  }
  t.equal(seen.size, 2_000, 'no key repeats');
  t.ok(firstCharacters.size > 50, `keys start with any of the 62 characters (${firstCharacters.size} seen in 2,000 keys)`);
});

t.test('new access key ids are 20 upper-case letters and digits, as AWS issues them', async (t) => {
  for (let i = 0; i < 200; i += 1) {
    const id = newAccessKeyId();
    if (!/^[A-Z0-9]{20}$/.test(id)) t.fail(`access key id ${id} has another shape`);
  }
  t.pass('every id has the shape');
});
