import type { ObjectEncryption, PartRef } from '../../rpc/index.js';
import { storedRange, type ObjectSealer } from '../encryption/index.js';
import { S3Error } from '../s3/index.js';
import { retrySlowRead } from './read-retry.js';
import type { ReadPathDeps } from './path-deps.js';
import { openStripeStream, type ReadOptions } from './stripe-reader.js';
import { resolveVersion, type ResolvedVersion } from './version-lookup.js';

/** What opening a stored version needs: its parts' lookups and the sealer of its data key (stripe reading takes its own options). */
export type ObjectOpenDeps = Pick<ReadPathDeps, 'cluster' | 'erasure' | 'metadataTimeoutMs' | 'sealer'>;

/**
 * Opens bytes [offset, offset + length) of a stored version: a plain erasure-coded object, or a
 * multipart object whose manifest lists parts that are versions of their own. Like
 * openStripeStream, the first bytes are in hand before this resolves.
 */
export async function openStoredObject(
  services: ObjectOpenDeps,
  version: ResolvedVersion,
  offsetBytes: number,
  lengthBytes: number,
  options: ReadOptions & { dataKeyOf?: DataKeyOf | undefined },
): Promise<AsyncGenerator<Uint8Array>> {
  const { parts } = version.record;
  if (parts === undefined) return openBody(services.sealer, version, offsetBytes, lengthBytes, options);
  const segments: { part: PartRef; offsetBytes: number; lengthBytes: number }[] = [];
  let partStart = 0;
  const end = offsetBytes + lengthBytes;
  for (const part of parts) {
    const partEnd = partStart + part.sizeBytes;
    if (partEnd > offsetBytes && partStart < end && part.sizeBytes > 0) {
      const from = Math.max(offsetBytes, partStart);
      segments.push({ part, offsetBytes: from - partStart, lengthBytes: Math.min(end, partEnd) - from });
    }
    partStart = partEnd;
  }
  const open = async (index: number): Promise<AsyncGenerator<Uint8Array>> => {
    const segment = segments[index];
    if (segment === undefined) return (async function* none() {})();
    const partVersion = await resolvePart(services, segment.part, options.signal);
    return openBody(services.sealer, partVersion, segment.offsetBytes, segment.lengthBytes, options);
  };
  const first = await open(0);
  return (async function* chained() {
    yield* first;
    for (let i = 1; i < segments.length; i += 1) yield* await open(i);
  })();
}

/** Opens an encrypted body's data key (a part's own record says how it is sealed); throws S3's error for a missing or wrong key. */
export type DataKeyOf = (encryption: ObjectEncryption) => Uint8Array;

/**
 * Plaintext bytes [offset, offset + length) of one body: straight from the stripes, or, when it is
 * encrypted, the packages that hold them, decrypted. As with openStripeStream, the first bytes (here:
 * the first package opened) are in hand before this resolves, so a body that fails to open is a clean error.
 */
async function openBody(
  sealer: ObjectSealer,
  version: ResolvedVersion,
  offsetBytes: number,
  lengthBytes: number,
  options: ReadOptions & { dataKeyOf?: DataKeyOf | undefined },
): Promise<AsyncGenerator<Uint8Array>> {
  const { record } = version;
  const { encryption } = record;
  if (encryption === undefined) return openStripeStream(version, offsetBytes, lengthBytes, options);
  if (options.dataKeyOf === undefined || encryption.nonce === undefined) {
    throw new S3Error('InternalError', { message: 'An encrypted body was opened without its key.' });
  }
  const dataKey = options.dataKeyOf(encryption);
  const range = storedRange(record.sizeBytes, offsetBytes, lengthBytes);
  const stored = await openStripeStream(version, range.storedOffsetBytes, range.storedLengthBytes, options);
  const plain = sealer.decrypt(stored, encryption, dataKey, { plainBytes: record.sizeBytes, offsetBytes, lengthBytes });
  const first = await plain.next();
  return (async function* primed() {
    if (first.done !== true) yield first.value;
    yield* plain;
  })();
}

async function resolvePart(services: ObjectOpenDeps, part: PartRef, signal: AbortSignal): Promise<ResolvedVersion> {
  // A part opened mid-body gets a read deadline of its own: the bytes before it have kept the client waiting, not failed.
  const version = await retrySlowRead({ signal, services }, (roundSignal) =>
    resolveVersion(services.cluster.readSets(part.bucket, part.key), part.bucket, part.key, services.erasure, roundSignal),
  );
  if (version === null || version.record.versionId !== part.versionId) {
    throw new S3Error('ServiceUnavailable', { message: 'A part of this object is not readable right now; please retry.' });
  }
  return version;
}
