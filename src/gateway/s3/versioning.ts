import { isVersionId } from '../../common/index.js';
import { S3Error } from './errors.js';
import { requestDocumentRoot } from './request-document.js';

/** A bucket's versioning state as PutBucketVersioning sets it. */
export type VersioningStatus = 'Enabled' | 'Suspended';

/**
 * Parses a PutBucketVersioning body. A Status other than Enabled or Suspended (or none) is S3's
 * IllegalVersioningConfigurationException; MfaDelete Enabled is refused with NotImplemented, since
 * Tessera has no MFA devices to check a token against (Disabled is accepted: it is what there is).
 */
export function parseVersioningXml(text: string): VersioningStatus {
  const root = requestDocumentRoot(text, 'VersioningConfiguration');
  const status = root['Status'];
  const mfaDelete = root['MfaDelete'];
  if (mfaDelete !== undefined && mfaDelete !== 'Enabled' && mfaDelete !== 'Disabled') throw new S3Error('IllegalVersioningConfigurationException');
  if (status !== 'Enabled' && status !== 'Suspended') throw new S3Error('IllegalVersioningConfigurationException');
  if (mfaDelete === 'Enabled') throw new S3Error('NotImplemented', { message: 'MFA delete is not supported.' });
  return status;
}

/**
 * The `versionId` a request names: undefined when absent, `null` (S3's id of the null version), or a
 * version id. An id of a shape Tessera never issues names no version: NoSuchVersion for `key`, or,
 * for a listing's version-id marker (`key` undefined), S3's "Invalid version id specified". An empty
 * id on an object request (`?versionId=`, what an SDK sends for an empty string) is S3's 400
 * InvalidArgument, not the current version.
 */
export function versionIdParam(value: string | undefined, key?: string): string | undefined {
  if (value === undefined || value === 'null' || isVersionId(value)) return value;
  if (value === '' && key !== undefined) {
    throw new S3Error('InvalidArgument', { message: 'Version id cannot be the empty string', fields: { ArgumentName: 'versionId', ArgumentValue: '' } });
  }
  if (key !== undefined) throw new S3Error('NoSuchVersion', { fields: { Key: key, VersionId: value } });
  throw new S3Error('InvalidArgument', { message: 'Invalid version id specified', fields: { ArgumentName: 'version-id-marker', ArgumentValue: value } });
}

/** The version id S3 shows for a version: its own id when written under Enabled versioning, else `null`. */
export function s3VersionId(record: { versionId: string; versioning?: VersioningStatus | undefined }): string {
  return record.versioning === 'Enabled' ? record.versionId : 'null';
}
