import { t } from 'tap';
import { newRequestId, newToken } from '../../src/common/index.js';

t.test('request ids are 16 upper-case hex characters and do not repeat, across refills of their random pool', async (t) => {
  const ids = new Set<string>();
  for (let i = 0; i < 5_000; i += 1) {
    const id = newRequestId();
    if (!/^[0-9A-F]{16}$/.test(id)) t.fail(`malformed request id ${id}`);
    ids.add(id);
  }
  t.equal(ids.size, 5_000);
});

t.test('tokens do not repeat within a process', async (t) => {
  const tokens = new Set(Array.from({ length: 5_000 }, () => newToken()));
  t.equal(tokens.size, 5_000);
});
