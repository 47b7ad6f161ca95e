import { randomBytes } from 'node:crypto';
import { formatVersionId } from '../../src/common/index.js';
import { targetArn, type TargetDefinition } from '../../src/events/index.js';
import { TARGET_RECORD_PREFIX, writeUserRecord, type NodeClient } from '../../src/rpc/index.js';

/**
 * Defines event target `name` on the cluster of `nodes`, as `tessera admin target add` stores it (a
 * user record `target:NAME` on every node, acknowledged by a majority); answers its ARN.
 */
export async function defineTarget(nodes: readonly NodeClient[], name: string, definition: TargetDefinition): Promise<string> {
  const nowMs = Date.now();
  await writeUserRecord(
    nodes,
    { name: TARGET_RECORD_PREFIX + name, versionId: formatVersionId(nowMs, 0, randomBytes(4).toString('hex')), deleted: false, canonicalId: '', createdMs: nowMs, keys: [], target: JSON.stringify(definition) },
    10_000,
  );
  return targetArn(name, definition.type);
}
