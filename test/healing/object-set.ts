import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RingLocator, type Ring } from '../../src/placement/index.js';
import type { HealingSlot } from './healing-fleet.js';

/** Objects written by a test and the bytes each must read back as. */
export class ObjectSet {
  readonly bucket: string;
  readonly bodies = new Map<string, Buffer>();

  constructor(bucket: string) {
    this.bucket = bucket;
  }

  /** Writes `count` objects of sizes from a few bytes (inline shards) to ~1.5 MiB (several stripes, files). */
  async write(s3: S3Client, prefix: string, count: number): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      const sizes = [10, 3_000, 100_000, 300_000, 1_500_000];
      const body = randomBytes((sizes[i % sizes.length] as number) + i);
      const key = `${prefix}/${i}`;
      await s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
      this.bodies.set(key, body);
    }
  }

  /** Total bytes written. */
  get sizeBytes(): number {
    let total = 0;
    for (const body of this.bodies.values()) total += body.length;
    return total;
  }

  /** GETs every object; returns the keys that failed or differ (empty when all are byte-identical). */
  async readAll(s3: S3Client): Promise<string[]> {
    const bad: string[] = [];
    for (const [key, body] of this.bodies) {
      try {
        const answer = await s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        const bytes = Buffer.from(await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
        if (!bytes.equals(body)) bad.push(`${key}: bytes differ (${sha(bytes)} vs ${sha(body)})`);
      } catch (err) {
        bad.push(`${key}: ${(err as Error).name}`);
      }
    }
    return bad;
  }

  /**
   * Checks that every object has all n shards where `ring` places them: each node of the set holds the
   * same version with the shard of its position, and the whole shard reads back with valid checksums.
   * Returns the problems found (empty when every shard is present and valid).
   */
  async shardProblems(ring: Ring, slots: readonly HealingSlot[]): Promise<string[]> {
    const byId = new Map(slots.map((slot) => [slot.id, slot]));
    const problems: string[] = [];
    const locator = new RingLocator(ring);
    for (const key of this.bodies.keys()) {
      const nodes = locator.locate(this.bucket, key).nodes;
      let version: string | undefined;
      for (const [position, node] of nodes.entries()) {
        const slot = byId.get(node.id);
        if (slot === undefined) {
          problems.push(`${key}: ring names unknown ${node.id}`);
          continue;
        }
        try {
          const status = await slot.client.objectStatus(this.bucket, key, { signal: AbortSignal.timeout(5_000) });
          if (status === null) {
            problems.push(`${key}: ${node.id} has no version`);
            continue;
          }
          version ??= status.record.versionId;
          if (status.record.versionId !== version) problems.push(`${key}: ${node.id} holds another version`);
          if (status.shardIndex !== position) {
            problems.push(`${key}: ${node.id} holds shard ${String(status.shardIndex)}, not ${position}`);
            continue;
          }
          const ref = { bucket: this.bucket, key, versionId: status.record.versionId, shardIndex: position };
          const stream = await slot.client.readShard(ref, 0, Number.MAX_SAFE_INTEGER, { signal: AbortSignal.timeout(10_000) });
          for await (const _ of stream) {
            // Reading to the end is the check: the node verifies every chunk as it sends.
          }
        } catch (err) {
          problems.push(`${key}: ${node.id} shard ${position}: ${(err as Error).message}`);
        }
      }
    }
    return problems;
  }
}

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 12);
}
