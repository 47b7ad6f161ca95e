/**
 * User metadata values with characters outside US-ASCII, as S3 handles them: a header value arrives as
 * bytes (Node reads them as Latin-1), which are taken as UTF-8 when they are valid UTF-8; RFC 2047
 * encoded words (`=?UTF-8?B?...?=`, `=?UTF-8?Q?...?=`) are decoded before storing. On the way out a
 * value that is not US-ASCII is sent as one RFC 2047 `B` word, which any header can carry.
 */

import type { ObjectRecord } from '../../rpc/index.js';

const ENCODED_WORD = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;

/** The stored form of an x-amz-meta-* header value as Node parsed it. */
export function decodeMetadataValue(headerValue: string): string {
  const bytes = Buffer.from(headerValue, 'latin1');
  const utf8 = bytes.toString('utf8');
  const text = Buffer.from(utf8, 'utf8').equals(bytes) ? utf8 : headerValue;
  return text.replace(ENCODED_WORD, (word, charset: string, encoding: string, payload: string) => {
    const name = charset.toLowerCase();
    if (name !== 'utf-8' && name !== 'iso-8859-1' && name !== 'us-ascii') return word;
    const decoded =
      encoding.toUpperCase() === 'B'
        ? Buffer.from(payload, 'base64')
        : Buffer.from(payload.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    return decoded.toString(name === 'utf-8' ? 'utf8' : 'latin1');
  });
}

/** The header value S3 answers for a stored metadata value. */
export function encodeMetadataValue(value: string): string {
  return /^[\x00-\x7f]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/**
 * The headers a GET answers from a version's stored metadata: Content-Type, the stored response headers
 * (Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires) and x-amz-meta-*.
 */
export function storedMetadataHeaders(record: Pick<ObjectRecord, 'contentType' | 'headers' | 'userMetadata'>): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': record.contentType, ...record.headers };
  for (const [name, value] of Object.entries(record.userMetadata)) headers[`x-amz-meta-${name}`] = encodeMetadataValue(value);
  return headers;
}
