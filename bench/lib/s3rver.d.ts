/** The part of s3rver (no type declarations of its own) that the benchmark uses. */
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';

  /** An in-process fake S3 server storing objects as files in `directory`. */
  export default class S3rver {
    constructor(options: { address?: string; port?: number; directory?: string; silent?: boolean; resetOnClose?: boolean; vhostBuckets?: boolean });
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
