import { createHmac } from 'node:crypto';
import { S3Error } from '../s3/index.js';
import { parseAmzDate, parseCredential } from './auth-params.js';
import { refuseV2 } from './presigned-v2.js';
import { checkScopeRegion, type RegionRule } from './region-scope.js';
import { deriveSigningKey, hmacHex, signaturesEqual, SIGV4_ALGORITHM } from './signing.js';
import type { CredentialStore } from './types.js';

/** Who signed a browser POST form: the access key, or nobody (an anonymous upload). */
export type PostSigner = { anonymous: false; accessKeyId: string } | { anonymous: true };

/** What a gateway accepts of a form's signature besides its value: scope regions and SigV2, as for other requests. */
export interface PostSignatureOptions {
  /** The SigV4 scope regions accepted; absent: any. */
  regions?: RegionRule | undefined;
  /** False refuses a SigV2-signed form; default true. */
  signatureV2?: boolean | undefined;
}

/** The form fields that sign a POST upload, by lower-cased name, in either signature version. */
const SIGNATURE_FIELDS = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature', 'awsaccesskeyid', 'signature'];

function missingField(name: string): S3Error {
  return new S3Error('InvalidArgument', {
    message: `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    fields: { ArgumentName: name, ArgumentValue: '' },
  });
}

/**
 * Verifies the signature of a browser POST form over its base64 policy, as S3 does. SigV4:
 * `x-amz-signature` = hex HMAC-SHA256 of the policy under the key derived from `x-amz-credential`
 * (whose date must be `x-amz-date`'s day). SigV2: `signature` = base64 HMAC-SHA1 of the policy under
 * the secret key of `AWSAccessKeyId`. A form with no signature and no policy is anonymous; a policy
 * without a signature, or the reverse, is refused. `fields`: lower-cased names, values as sent;
 * `options`: the gateway's rules for SigV4 scope regions (checkScopeRegion) and for SigV2.
 */
export function verifyPostSignature(fields: ReadonlyMap<string, string>, credentials: CredentialStore, options: PostSignatureOptions = {}): PostSigner {
  const policy = fields.get('policy');
  const signed = SIGNATURE_FIELDS.some((name) => fields.has(name));
  if (!signed) {
    if (policy !== undefined) throw missingField(fields.has('x-amz-algorithm') ? 'x-amz-signature' : 'AWSAccessKeyId');
    return { anonymous: true };
  }
  if (policy === undefined) throw missingField('policy');
  if (fields.has('x-amz-algorithm') || fields.has('x-amz-signature') || fields.has('x-amz-credential')) return verifyV4(fields, policy, credentials, options.regions);
  refuseV2(options.signatureV2);
  return verifyV2(fields, policy, credentials);
}

function required(fields: ReadonlyMap<string, string>, name: string, label: string): string {
  const value = fields.get(name);
  if (value === undefined) throw missingField(label);
  return value;
}

function verifyV4(fields: ReadonlyMap<string, string>, policy: string, credentials: CredentialStore, regions: RegionRule | undefined): PostSigner {
  const algorithm = required(fields, 'x-amz-algorithm', 'x-amz-algorithm');
  const credential = required(fields, 'x-amz-credential', 'x-amz-credential');
  const amzDate = required(fields, 'x-amz-date', 'x-amz-date');
  const signature = required(fields, 'x-amz-signature', 'x-amz-signature');
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new S3Error('InvalidArgument', { message: 'POST form x-amz-algorithm only supports "AWS4-HMAC-SHA256"', fields: { ArgumentName: 'x-amz-algorithm', ArgumentValue: algorithm } });
  }
  const scope = parseCredential(credential, (detail) => new S3Error('InvalidArgument', { message: `Error parsing the X-Amz-Credential parameter; ${detail}`, fields: { ArgumentName: 'x-amz-credential', ArgumentValue: credential } }));
  checkScopeRegion(regions, scope.region, 'form', credential);
  if (parseAmzDate(amzDate) === undefined || amzDate.slice(0, 8) !== scope.date) {
    throw new S3Error('InvalidArgument', { message: 'X-Amz-Date must be in the ISO8601 Long Format and match the credential\'s date', fields: { ArgumentName: 'x-amz-date', ArgumentValue: amzDate } });
  }
  const secretKey = credentials.secretKeyFor(scope.accessKeyId);
  if (secretKey === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: scope.accessKeyId } });
  const expected = hmacHex(deriveSigningKey(secretKey, scope.date, scope.region, scope.service), policy);
  if (!signaturesEqual(signature, expected)) {
    throw new S3Error('SignatureDoesNotMatch', { fields: { AWSAccessKeyId: scope.accessKeyId, StringToSign: policy, SignatureProvided: signature } });
  }
  return { anonymous: false, accessKeyId: scope.accessKeyId };
}

function verifyV2(fields: ReadonlyMap<string, string>, policy: string, credentials: CredentialStore): PostSigner {
  const accessKeyId = required(fields, 'awsaccesskeyid', 'AWSAccessKeyId');
  const signature = required(fields, 'signature', 'signature');
  const secretKey = credentials.secretKeyFor(accessKeyId);
  if (secretKey === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: accessKeyId } });
  const expected = createHmac('sha1', secretKey).update(policy, 'utf8').digest('base64');
  if (!signaturesEqual(signature, expected)) {
    throw new S3Error('SignatureDoesNotMatch', { fields: { AWSAccessKeyId: accessKeyId, StringToSign: policy, SignatureProvided: signature } });
  }
  return { anonymous: false, accessKeyId };
}
