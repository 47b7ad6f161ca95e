/** How the client addressed the bucket: in the path (`/bucket/key`) or in the host name (`bucket.<baseDomain>`). */
export interface LocationRequest {
  protocol: 'http' | 'https';
  /** The Host header as sent (name and port). */
  host: string;
  bucket: string;
  key: string;
  virtualHosted: boolean;
}

/**
 * The absolute URL of an object as S3 gives it in CompleteMultipartUploadResult's Location:
 * `scheme://host/bucket/key` for a path-style request, `scheme://bucket.domain/key` for a
 * virtual-hosted one (the request's own host already names the bucket). The key is percent-encoded
 * as one component, `/` included, as S3 does.
 */
export function objectLocation(request: LocationRequest): string {
  const key = encodeURIComponent(request.key);
  return request.virtualHosted ? `${request.protocol}://${request.host}/${key}` : `${request.protocol}://${request.host}/${encodeURIComponent(request.bucket)}/${key}`;
}
