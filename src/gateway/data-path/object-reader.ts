import type { PartRef } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';
import { withTimeout, type GatewayServices } from './request-scope.js';
import { openStripeStream, type ReadOptions } from './stripe-reader.js';
import { resolveVersion, type ResolvedVersion } from './version-lookup.js';

/**
 * Opens bytes [offset, offset + length) of a stored version: a plain erasure-coded object, or a
 * multipart object whose manifest lists parts that are versions of their own. Like
 * openStripeStream, the first bytes are in hand before this resolves.
 */
export async function openStoredObject(
  services: GatewayServices,
  version: ResolvedVersion,
  offsetBytes: number,
  lengthBytes: number,
  options: ReadOptions,
): Promise<AsyncGenerator<Uint8Array>> {
  const { parts } = version.record;
  if (parts === undefined) return openStripeStream(version, offsetBytes, lengthBytes, options);
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
    return openStripeStream(partVersion, segment.offsetBytes, segment.lengthBytes, options);
  };
  const first = await open(0);
  return (async function* chained() {
    yield* first;
    for (let i = 1; i < segments.length; i += 1) yield* await open(i);
  })();
}

async function resolvePart(services: GatewayServices, part: PartRef, signal: AbortSignal): Promise<ResolvedVersion> {
  const metadataSignal = withTimeout(signal, services.metadataTimeoutMs);
  const version = await resolveVersion(services.cluster.readSets(part.bucket, part.key), part.bucket, part.key, services.erasure, metadataSignal);
  if (version === null || version.record.versionId !== part.versionId) {
    throw new S3Error('ServiceUnavailable', { message: 'A part of this object is not readable right now; please retry.' });
  }
  return version;
}
