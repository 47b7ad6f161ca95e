/**
 * Identity policies every cluster has, as other stores ship them: attach one with
 * `tessera admin policy attach USER NAME`. A stored policy of the same name replaces one of these.
 */
export const BUILTIN_POLICIES: Readonly<Record<string, string>> = {
  // The cluster's administration (every admin API action) and all of S3: what the configured keys may do.
  admin: JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['admin:*'], Resource: ['*'] },
      { Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::*'] },
    ],
  }),
  readonly: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:GetBucketLocation', 's3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging', 's3:GetObjectVersionTagging', 's3:ListBucket', 's3:ListBucketVersions', 's3:ListAllMyBuckets'], Resource: ['arn:aws:s3:::*'] }],
  }),
  readwrite: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::*'] }],
  }),
  writeonly: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: ['arn:aws:s3:::*'] }],
  }),
};
