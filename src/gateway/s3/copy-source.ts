import { S3Error } from './errors.js';
import { validateKey } from './names.js';

/** The object an `x-amz-copy-source` header names. */
export interface CopySource {
  bucket: string;
  key: string;
  versionId: string | undefined;
}

function badSource(message = 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey'): S3Error {
  return new S3Error('InvalidArgument', { message, fields: { ArgumentName: 'x-amz-copy-source' } });
}

/**
 * Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, the bucket and key URL-encoded (so a `?`
 * in the key arrives as %3F and the first raw `?` starts the query). A client that sends raw UTF-8
 * instead of percent-encoding still names the right key. An empty versionId is 400 InvalidArgument.
 */
export function parseCopySource(value: string): CopySource {
  // Node hands header values over as latin1, one char per byte: recover UTF-8 sent unencoded.
  const text = /[^\x00-\x7f]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
  const mark = text.indexOf('?');
  const rawPath = mark < 0 ? text : text.slice(0, mark);
  let versionId: string | undefined;
  if (mark >= 0) {
    const query = new URLSearchParams(text.slice(mark + 1));
    versionId = query.get('versionId') ?? undefined;
    // S3 refuses `?versionId=` as a malformed source rather than taking it for no version or a missing one.
    if (versionId === '') throw badSource('Version id cannot be the empty string');
  }
  let path: string;
  try {
    path = decodeURIComponent(rawPath.trim());
  } catch {
    throw badSource('The copy source is not valid percent-encoded UTF-8.');
  }
  if (path.startsWith('/')) path = path.slice(1);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw badSource();
  const key = path.slice(slash + 1);
  validateKey(key);
  return { bucket: path.slice(0, slash), key, versionId };
}
