import { UPLOADS_BUCKET, type ObjectRecord, type UploadInfo, type UploadOutcome } from '../../../rpc/index.js';
import { deleteMarker, type RecordWriteDeps } from '../../data-path/index.js';
import type { RequestContext } from '../../http/index.js';

/**
 * The tombstone that ends an upload: a delete marker at the upload's marker key that keeps the
 * upload's description and how it ended. Readers see a tombstone (NoSuchUpload, not listed).
 */
export function closingMarker(ctx: RequestContext<Pick<RecordWriteDeps, 'clock' | 'erasure'>>, marker: ObjectRecord & { upload: UploadInfo }, outcome: UploadOutcome, manifest?: ObjectRecord): ObjectRecord & { upload: UploadInfo } {
  const closing = deleteMarker(ctx, UPLOADS_BUCKET, marker.key);
  const { completing: _intent, ...open } = marker.upload;
  const upload: UploadInfo = { ...open, closed: outcome, closedMs: closing.lastModifiedMs };
  if (manifest !== undefined) {
    upload.manifestVersionId = manifest.versionId;
    if (manifest.versioning !== undefined) upload.manifestVersioning = manifest.versioning;
    upload.manifestEtag = manifest.etag;
    const [checksum] = Object.entries(manifest.checksums);
    if (checksum !== undefined) upload.manifestChecksum = { algorithm: checksum[0], value: checksum[1], type: manifest.checksumType ?? 'FULL_OBJECT' };
  }
  // An SSE-C upload's encryption stays with it: a retried completion is checked against its key; an
  // SSE-KMS one, so a retried completion echoes the key. (An SSE-S3 one is not needed there, and would
  // only keep a sealed data key the master-key rotation must visit.)
  const kept = marker.encryption !== undefined && marker.encryption.kind !== 'SSE-S3';
  return { ...closing, upload, ...(kept ? { encryption: marker.encryption } : {}) };
}
