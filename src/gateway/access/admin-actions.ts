/**
 * The admin API's actions, as a user policy names them (`admin:ListUsers`, `admin:*`). They are
 * matched against the resource `*` (ADMIN_RESOURCE): a statement granting them names `"Resource": "*"`.
 */
export const ADMIN_ACTIONS = [
  'admin:ListUsers',
  'admin:GetUser',
  'admin:CreateUser',
  'admin:DeleteUser',
  'admin:ListAccessKeys',
  'admin:CreateAccessKey',
  'admin:UpdateAccessKey',
  'admin:DeleteAccessKey',
  'admin:ListPolicies',
  'admin:GetPolicy',
  'admin:PutPolicy',
  'admin:AttachUserPolicy',
  'admin:DetachUserPolicy',
  'admin:ServerInfo',
  'admin:StartHeal',
  'admin:GetBucketQuota',
  'admin:SetBucketQuota',
  'admin:ListTargets',
  'admin:PutTarget',
  'admin:DeleteTarget',
  'admin:ListKmsKeys',
  'admin:CreateKmsKey',
  'admin:UpdateKmsKey',
] as const;

/** One admin API action. */
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** The resource an admin action is evaluated on: the cluster as a whole. */
export const ADMIN_RESOURCE = '*';
