import type { S3Client } from '@aws-sdk/client-s3';

// The characters XML 1.0 forbids that the AWS SDK for JavaScript writes raw; S3's listings write them as
// references, so a client that echoes a listed key, or escapes every control character, sends `&#x1;`.
const RAW_CONTROLS = /[\u0001-\u0008\u000B\u000C\u000E-\u001F]/g;

/**
 * Makes `s3` send its XML bodies as such a client does: each control character as a hexadecimal
 * character reference (`&#x1;`), rewritten before the body is checksummed and signed. Returns `s3`.
 */
export function controlsAsReferences(s3: S3Client): S3Client {
  s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown };
      if (typeof request.body === 'string') {
        request.body = request.body.replace(RAW_CONTROLS, (char) => `&#x${(char.codePointAt(0) ?? 0).toString(16).toUpperCase()};`);
      }
      return next(args);
    },
    { step: 'build', priority: 'high', name: 'controlsAsReferences' },
  );
  return s3;
}
