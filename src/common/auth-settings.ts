import Type, { type Static } from 'typebox';

/**
 * How a gateway treats signatures beyond checking them: the SigV4 scope regions it takes besides its
 * own, and whether it still speaks SigV2. Declared apart from config-schema.ts (which holds them under
 * `auth`) and without its helpers, which that file would have to import back.
 */
export const AuthSettings = Type.Object(
  {
    acceptedRegions: Type.With(Type.Array(Type.String({ minLength: 1 }), { expected: 'a list of region names', list: true }), {
      env: 'TESSERA_AUTH_ACCEPTED_REGIONS',
      default: ['*'] as string[],
      defaultDoc: '`*` (any)',
      doc: 'regions a SigV4 signature may be scoped to besides `region`; `*` accepts any, as S3 clients expect of a store they point at by endpoint (and MinIO does with no region set). `[]` confines signatures to `region` (any other is refused with 400 AuthorizationHeaderMalformed naming it): do that where gateways of several regions share keys',
    }),
    signatureV2: Type.With(Type.Boolean({ expected: 'on or off (true/false)' }), {
      env: 'TESSERA_AUTH_SIGNATURE_V2',
      default: true,
      doc: '`off` refuses Signature Version 2 (headers, presigned URLs, POST forms) with 400 InvalidRequest, as S3\'s V4-only regions do',
    }),
  },
  { additionalProperties: false },
);

/** The `auth` settings, validated. */
export type AuthConfig = Static<typeof AuthSettings>;
