/*
 * AES-256-GCM for the encrypted body format (src/gateway/encryption/package-format.ts), without the
 * per-call allocations of node:crypto: one EVP_CIPHER_CTX per package key keeps its key schedule, each
 * package only resets the IV, and every piece is written into an output buffer the caller owns.
 *
 * Built against the headers Node ships (include/node, which has openssl/) and NOT linked with
 * -lcrypto: Node exports OpenSSL's symbols to addons (or has its shared libcrypto loaded already), so
 * this runs on the very OpenSSL node:crypto uses. N-API version 8, so one binary loads on Node 20, 22, 24.
 *
 * JavaScript interface (every buffer a Uint8Array; a context is an external):
 *   context(key[32])                           -> ctx
 *   begin(ctx, nonce[12], aad, encrypt)         starts a package (key schedule kept)
 *   update(ctx, input, output, outputOffset)    input.length bytes out of place into output at outputOffset
 *   sealFinal(ctx, output, tagOffset)           the 16-byte tag into output at tagOffset
 *   openFinal(ctx, tag[16])                     -> true when the package authenticates
 *   free(ctx)                                   releases the context now (else the GC does)
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16

typedef struct {
  EVP_CIPHER_CTX *ctx;
} gcm_context;

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_TESSERA_AES_GCM", message);
  return NULL;
}

static napi_value undefined_value(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

/* A Uint8Array's bytes (a Buffer is one). */
static int bytes_of(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  void *base;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, &base, &buffer, &offset) != napi_ok || type != napi_uint8_array) return 0;
  *data = (uint8_t *)base;
  return 1;
}

static int size_of(napi_env env, napi_value value, size_t *out) {
  int64_t n;
  if (napi_get_value_int64(env, value, &n) != napi_ok || n < 0) return 0;
  *out = (size_t)n;
  return 1;
}

static EVP_CIPHER_CTX *context_of(napi_env env, napi_value value) {
  gcm_context *context;
  if (napi_get_value_external(env, value, (void **)&context) != napi_ok || context == NULL) return NULL;
  return context->ctx;
}

static void finalize_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  gcm_context *context = (gcm_context *)data;
  EVP_CIPHER_CTX_free(context->ctx);
  free(context);
}

static napi_value context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint8_t *key;
  size_t key_bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return fail(env, "context(key)");
  if (!bytes_of(env, argv[0], &key, &key_bytes) || key_bytes != KEY_BYTES) return fail(env, "a package key has 32 bytes");
  gcm_context *holder = (gcm_context *)calloc(1, sizeof(gcm_context));
  if (holder == NULL) return fail(env, "out of memory");
  holder->ctx = EVP_CIPHER_CTX_new();
  /* The key schedule is computed once here; begin() then sets only the IV. */
  if (holder->ctx == NULL || EVP_CipherInit_ex(holder->ctx, EVP_aes_256_gcm(), NULL, key, NULL, 1) != 1) {
    EVP_CIPHER_CTX_free(holder->ctx);
    free(holder);
    return fail(env, "EVP_CipherInit_ex(aes-256-gcm) failed");
  }
  napi_value result;
  if (napi_create_external(env, holder, finalize_context, NULL, &result) != napi_ok) {
    EVP_CIPHER_CTX_free(holder->ctx);
    free(holder);
    return fail(env, "napi_create_external failed");
  }
  return result;
}

static napi_value begin(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint8_t *nonce, *aad;
  size_t nonce_bytes, aad_bytes;
  bool encrypt;
  int out_bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, "begin(ctx, nonce, aad, encrypt)");
  EVP_CIPHER_CTX *ctx = context_of(env, argv[0]);
  if (ctx == NULL) return fail(env, "not a live context");
  if (!bytes_of(env, argv[1], &nonce, &nonce_bytes) || nonce_bytes != NONCE_BYTES) return fail(env, "a package nonce has 12 bytes");
  if (!bytes_of(env, argv[2], &aad, &aad_bytes)) return fail(env, "the AAD is a Uint8Array");
  if (napi_get_value_bool(env, argv[3], &encrypt) != napi_ok) return fail(env, "encrypt is a boolean");
  if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, encrypt ? 1 : 0) != 1) return fail(env, "EVP_CipherInit_ex(iv) failed");
  if (aad_bytes > 0 && EVP_CipherUpdate(ctx, NULL, &out_bytes, aad, (int)aad_bytes) != 1) return fail(env, "EVP_CipherUpdate(aad) failed");
  return undefined_value(env);
}

static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint8_t *input, *output;
  size_t input_bytes, output_bytes, offset;
  int out_bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, "update(ctx, input, output, outputOffset)");
  EVP_CIPHER_CTX *ctx = context_of(env, argv[0]);
  if (ctx == NULL) return fail(env, "not a live context");
  if (!bytes_of(env, argv[1], &input, &input_bytes) || !bytes_of(env, argv[2], &output, &output_bytes) || !size_of(env, argv[3], &offset)) {
    return fail(env, "update takes two Uint8Arrays and an offset");
  }
  if (offset > output_bytes || input_bytes > output_bytes - offset) return fail(env, "the output is too small for the input");
  if (input_bytes > INT32_MAX) return fail(env, "a piece is larger than 2 GiB");
  if (input_bytes == 0) return undefined_value(env);
  uint8_t *to = output + offset;
  /* Out of place only: the caller's input pieces are kept (to reseal) or shared, never written. */
  if (to < input + input_bytes && input < to + input_bytes) return fail(env, "the output overlaps the input");
  if (EVP_CipherUpdate(ctx, to, &out_bytes, input, (int)input_bytes) != 1 || (size_t)out_bytes != input_bytes) {
    return fail(env, "EVP_CipherUpdate failed");
  }
  return undefined_value(env);
}

static napi_value seal_final(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint8_t *output;
  size_t output_bytes, offset;
  uint8_t none[TAG_BYTES];
  int out_bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return fail(env, "sealFinal(ctx, output, tagOffset)");
  EVP_CIPHER_CTX *ctx = context_of(env, argv[0]);
  if (ctx == NULL) return fail(env, "not a live context");
  if (!bytes_of(env, argv[1], &output, &output_bytes) || !size_of(env, argv[2], &offset)) return fail(env, "sealFinal takes a Uint8Array and an offset");
  if (offset > output_bytes || output_bytes - offset < TAG_BYTES) return fail(env, "no room for the tag");
  /* GCM writes nothing at final; `none` only gives it a valid pointer. */
  if (EVP_CipherFinal_ex(ctx, none, &out_bytes) != 1 || out_bytes != 0) return fail(env, "EVP_CipherFinal_ex failed");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, output + offset) != 1) return fail(env, "EVP_CTRL_GCM_GET_TAG failed");
  return undefined_value(env);
}

static napi_value open_final(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *tag;
  size_t tag_bytes;
  uint8_t none[TAG_BYTES];
  int out_bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "openFinal(ctx, tag)");
  EVP_CIPHER_CTX *ctx = context_of(env, argv[0]);
  if (ctx == NULL) return fail(env, "not a live context");
  if (!bytes_of(env, argv[1], &tag, &tag_bytes) || tag_bytes != TAG_BYTES) return fail(env, "a tag has 16 bytes");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) != 1) return fail(env, "EVP_CTRL_GCM_SET_TAG failed");
  napi_value result;
  napi_get_boolean(env, EVP_CipherFinal_ex(ctx, none, &out_bytes) == 1 && out_bytes == 0, &result);
  return result;
}

static napi_value free_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  gcm_context *holder;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return fail(env, "free(ctx)");
  if (napi_get_value_external(env, argv[0], (void **)&holder) != napi_ok || holder == NULL) return fail(env, "not a context");
  /* The holder stays until the GC finalizes the external; only the OpenSSL context goes now. */
  EVP_CIPHER_CTX_free(holder->ctx);
  holder->ctx = NULL;
  return undefined_value(env);
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      {"context", NULL, context, NULL, NULL, NULL, napi_enumerable, NULL},
      {"begin", NULL, begin, NULL, NULL, NULL, napi_enumerable, NULL},
      {"update", NULL, update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealFinal", NULL, seal_final, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openFinal", NULL, open_final, NULL, NULL, NULL, napi_enumerable, NULL},
      {"free", NULL, free_context, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions) != napi_ok) return NULL;
  return exports;
}
