/**
 * Bucket configurations Tessera never has, answered with S3's own "not configured" error (clients such
 * as `aws s3 sync`, rclone and s3cmd probe some of them) rather than NotImplemented.
 */
export const UNCONFIGURED_BUCKET_SUBRESOURCES = {
  website: 'NoSuchWebsiteConfiguration',
} as const;

/**
 * Bucket configurations whose answer is fixed: what Tessera always does (owner pays) or an empty document meaning "none" (acceleration).
 */
export const FIXED_BUCKET_CONFIGURATIONS: Readonly<Record<string, { root: string; body: Record<string, unknown> }>> = {
  requestPayment: { root: 'RequestPaymentConfiguration', body: { Payer: 'BucketOwner' } },
  accelerate: { root: 'AccelerateConfiguration', body: {} },
};
