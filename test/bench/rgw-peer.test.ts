import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { findCephScripts, rgwUnavailable } from '../../bench/lib/rgw-peer.js';

const PROGRAMS = ['radosgw', 'radosgw-admin', 'ceph-mon', 'ceph-osd', 'ceph', 'monmaptool'];

t.test('RGW is "not installed" while a Ceph program is missing from PATH or its bring-up scripts are', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-rgw-plan-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  const scripts = join(dir, 'peers', 'ceph');
  await mkdir(bin);
  await mkdir(scripts, { recursive: true });
  for (const program of PROGRAMS.slice(1)) await writeFile(join(bin, program), '#!/bin/sh\n', { mode: 0o755 });
  t.match(rgwUnavailable(scripts, bin), /^not installed \(radosgw not on PATH/, 'radosgw missing');
  await writeFile(join(bin, 'radosgw'), '#!/bin/sh\n', { mode: 0o755 });
  t.equal(rgwUnavailable(undefined, bin), 'not installed (no Ceph bring-up scripts: --ceph-scripts DIR or TESSERA_PEERS_DIR)');
  t.match(rgwUnavailable(scripts, bin), /^not installed \(no start\.sh in /, 'an empty scripts directory');
  await writeFile(join(scripts, 'start.sh'), '#!/bin/sh\n');
  await writeFile(join(scripts, 'setup.sh'), '#!/bin/sh\n');
  t.equal(rgwUnavailable(scripts, bin), undefined, 'everything there: RGW is tried');
  t.equal(findCephScripts(undefined, join(dir, 'peers')), scripts, 'TESSERA_PEERS_DIR/ceph');
  t.equal(findCephScripts('/elsewhere/ceph', join(dir, 'peers')), '/elsewhere/ceph', '--ceph-scripts wins');
});
