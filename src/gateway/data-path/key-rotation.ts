import { hasCode } from '../../common/index.js';
import { UPLOADS_BUCKET, type NodeClient } from '../../rpc/index.js';
import type { ObjectSealer } from '../encryption/index.js';

/** What a rotation pass did, over every node. */
export interface RotationReport {
  /** Records examined (every version of every key, multipart parts and markers included). */
  examined: number;
  /** SSE-S3 records whose data key was re-sealed under the current master key. */
  resealed: number;
  /** Records that changed while the pass ran (a newer write took their place): nothing to do. */
  changed: number;
}

const PAGE = 1000;

/**
 * Master-key rotation: on every node, walks every version of every bucket's records (and the multipart uploads' internal
 * bucket) and re-seals each SSE-S3 data key that is not under the current master key, in place: no
 * object byte is read or rewritten. Each node's copy is resealed on its own; the reseal is
 * deterministic, so all copies of a record stay identical. Objects written meanwhile by a gateway that
 * still used the old key are caught by the next pass: run it until `resealed` is 0.
 */
export async function rotateMasterKey(nodes: readonly NodeClient[], sealer: ObjectSealer, signal: AbortSignal): Promise<RotationReport> {
  const report: RotationReport = { examined: 0, resealed: 0, changed: 0 };
  const current = sealer.currentMasterKeyId();
  if (current === undefined) throw new Error('no master key is configured');
  for (const node of nodes) {
    const buckets = (await node.listBuckets({ signal })).map((b) => b.name);
    for (const bucket of [...buckets, UPLOADS_BUCKET]) {
      // Every version, not only the current ones: a noncurrent version sealed under the old key would be lost with it.
      let from: { after: string; afterVersion?: string } = { after: '' };
      for (;;) {
        const page = await node.listVersions({ bucket, prefix: '', afterIsPrefix: false, limit: PAGE, ...from }, { signal });
        for (const { record } of page.entries) {
          report.examined += 1;
          const field = record.encryption;
          if (field?.kind !== 'SSE-S3' || field.masterKeyId === current) continue;
          try {
            await node.reseal({ bucket: record.bucket, key: record.key, versionId: record.versionId, encryption: sealer.reseal(field) }, { signal });
            report.resealed += 1;
          } catch (err) {
            if (!hasCode(err, 'NotFound')) throw err;
            report.changed += 1;
          }
        }
        const last = page.entries.at(-1);
        if (!page.truncated || last === undefined) break;
        from = { after: last.key, afterVersion: last.record.versionId };
      }
    }
  }
  return report;
}
