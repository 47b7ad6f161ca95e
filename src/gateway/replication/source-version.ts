/** One version of an object as its cluster holds it, readable part by part: what replication copies to a remote store. */
export interface SourceVersion {
  bucket: string; key: string;
  /** Internal version id (record.versionId): the id a Tessera destination keeps. */
  versionId: string;
  deleteMarker: boolean;
  sizeBytes: number;
  /** Quoted ETag as the source shows it. */
  etag: string;
  lastModifiedMs: number;
  /** Its replication status at the source (REPLICA: another cluster's copy, never sent on); absent: none. */
  replicationStatus?: 'PENDING' | 'COMPLETED' | 'FAILED' | 'REPLICA';
  /** Content-Type, Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires, x-amz-meta-*: as a GET answers them. */
  headers: Record<string, string>;
  tags: Record<string, string>;
  retention?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; retainUntilMs: number };
  legalHold?: boolean;
  /** 'SSE-S3' when stored encrypted under the cluster's keys, 'SSE-C' or 'SSE-KMS' when under a customer's or a KMS key (cannot be replicated). */
  encryption?: 'SSE-S3' | 'SSE-C' | 'SSE-KMS';
  /** Part sizes of a multipart object, in order; undefined for a single-part object. */
  partSizes?: number[];
  /** Decrypted bytes of part `index` (0-based; 0 for a single-part object), streamed. */
  openPart(index: number, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
}
