/*
 *   scryptRomix(lanes, r, N) -> Promise<undefined>
 *       scrypt's ROMix (RFC 7914 section 5) of every 128*r-byte lane of `lanes` (a Uint8Array holding
 *       p lanes: the first PBKDF2-HMAC-SHA256 output of scrypt), in place, on libuv's thread pool, one
 *       lane after the other (N*128*r bytes of memory, as OpenSSL's scrypt). scrypt(P, S, N, r, p, dkLen)
 *       is then PBKDF2-HMAC-SHA256(P, lanes, 1, dkLen) (src/engine/crypto/scrypt.ts). The same bytes as
 *       OpenSSL's scrypt, about a quarter less CPU: Salsa20/8 on SSE2 vectors, with each 64-byte block's
 *       words kept in diagonal order (C. Percival's layout) so a round is a few vector operations, where
 *       OpenSSL works word by word. Only where SSE2 is (x86-64): elsewhere the addon has no scryptRomix
 *       and Ferry uses node:crypto's scrypt. The caller must not touch `lanes` until the promise settles.
 *
 * Included by ferry_fs.c after its argument helpers; FERRY_SCRYPT_PROPERTY is its entry in the exports.
 */
#if defined(__SSE2__)
#include <emmintrin.h>

static inline void romix_salsa20_8(__m128i b[4]) {
  __m128i x0 = b[0], x1 = b[1], x2 = b[2], x3 = b[3], t;
#define ROMIX_ARX(out, a, c, s)                   \
  t = _mm_add_epi32(a, c);                        \
  out = _mm_xor_si128(out, _mm_slli_epi32(t, s)); \
  out = _mm_xor_si128(out, _mm_srli_epi32(t, 32 - s));
  for (int i = 0; i < 8; i += 2) {
    /* Columns: x1 holds words 4 9 14 3, x2 8 13 2 7, x3 12 1 6 11, x0 0 5 10 15. */
    ROMIX_ARX(x1, x0, x3, 7)
    ROMIX_ARX(x2, x1, x0, 9)
    ROMIX_ARX(x3, x2, x1, 13)
    ROMIX_ARX(x0, x3, x2, 18)
    x1 = _mm_shuffle_epi32(x1, 0x93);
    x2 = _mm_shuffle_epi32(x2, 0x4E);
    x3 = _mm_shuffle_epi32(x3, 0x39);
    /* Rows. */
    ROMIX_ARX(x3, x0, x1, 7)
    ROMIX_ARX(x2, x3, x0, 9)
    ROMIX_ARX(x1, x2, x3, 13)
    ROMIX_ARX(x0, x1, x2, 18)
    x1 = _mm_shuffle_epi32(x1, 0x39);
    x2 = _mm_shuffle_epi32(x2, 0x4E);
    x3 = _mm_shuffle_epi32(x3, 0x93);
  }
#undef ROMIX_ARX
  b[0] = _mm_add_epi32(b[0], x0);
  b[1] = _mm_add_epi32(b[1], x1);
  b[2] = _mm_add_epi32(b[2], x2);
  b[3] = _mm_add_epi32(b[3], x3);
}

/* out = BlockMix(in xor v) (xor only when v is not NULL): 2r blocks of four vectors; out must not alias in. */
static inline void romix_blockmix(const __m128i *in, const __m128i *v, __m128i *out, size_t r) {
  __m128i x[4];
  const size_t last = (2 * r - 1) * 4;
  for (int k = 0; k < 4; k++) x[k] = v ? _mm_xor_si128(in[last + k], v[last + k]) : in[last + k];
  for (size_t i = 0; i < 2 * r; i++) {
    const __m128i *bi = in + i * 4;
    if (v) {
      const __m128i *vi = v + i * 4;
      for (int k = 0; k < 4; k++) x[k] = _mm_xor_si128(x[k], _mm_xor_si128(bi[k], vi[k]));
    } else {
      for (int k = 0; k < 4; k++) x[k] = _mm_xor_si128(x[k], bi[k]);
    }
    romix_salsa20_8(x);
    /* Even blocks to the first half of the output, odd ones to the second. */
    __m128i *o = out + ((i & 1) ? (r + i / 2) : (i / 2)) * 4;
    for (int k = 0; k < 4; k++) o[k] = x[k];
  }
}

/* ROMix of one 128*r-byte lane in place; v: N*128*r bytes, xy: 256*r bytes, both 16-byte aligned. */
static void romix_lane(uint8_t *lane, size_t r, uint64_t n, __m128i *v, __m128i *xy) {
  const size_t words = 32 * r, vecs = 8 * r;
  __m128i *x = xy, *y = xy + vecs;
  uint32_t *xw = (uint32_t *)x;
  const uint32_t *yw = (const uint32_t *)y;
  /* Into diagonal order: position i of each block holds word (5 i) mod 16 (little-endian words). */
  for (size_t k = 0; k < 2 * r; k++)
    for (size_t i = 0; i < 16; i++) {
      const uint8_t *w = lane + 4 * (k * 16 + (i * 5) % 16);
      xw[k * 16 + i] = (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
    }
  for (uint64_t i = 0; i < n; i += 2) {
    memcpy(v + i * vecs, x, 128 * r);
    romix_blockmix(x, NULL, y, r);
    memcpy(v + (i + 1) * vecs, y, 128 * r);
    romix_blockmix(y, NULL, x, r);
  }
  for (uint64_t i = 0; i < n; i += 2) {
    /* Integerify: the first word of the last block (position 0 in diagonal order too), mod N. */
    uint64_t j = xw[words - 16] & (n - 1);
    romix_blockmix(x, v + j * vecs, y, r);
    j = yw[words - 16] & (n - 1);
    romix_blockmix(y, v + j * vecs, x, r);
  }
  for (size_t k = 0; k < 2 * r; k++)
    for (size_t i = 0; i < 16; i++) {
      uint8_t *w = lane + 4 * (k * 16 + (i * 5) % 16);
      uint32_t value = xw[k * 16 + i];
      w[0] = (uint8_t)value;
      w[1] = (uint8_t)(value >> 8);
      w[2] = (uint8_t)(value >> 16);
      w[3] = (uint8_t)(value >> 24);
    }
}

typedef struct {
  async_job async; /* keeps the lanes' buffer */
  uint8_t *lanes;
  size_t length, r;
  uint64_t n;
  bool out_of_memory;
} romix_job;

static void romix_execute(napi_env env, void *data) {
  (void)env;
  romix_job *job = data;
  size_t lane_bytes = 128 * job->r;
  __m128i *v = aligned_alloc(64, (size_t)job->n * lane_bytes);
  __m128i *xy = aligned_alloc(64, 2 * lane_bytes);
  if (v == NULL || xy == NULL) {
    job->out_of_memory = true;
  } else {
    for (size_t at = 0; at < job->length; at += lane_bytes) romix_lane(job->lanes + at, job->r, job->n, v, xy);
  }
  free(v);
  free(xy);
}

static void romix_complete(napi_env env, napi_status status, void *data) {
  romix_job *job = data;
  napi_value value = NULL;
  if (status == napi_ok && !job->out_of_memory) napi_get_undefined(env, &value);
  settle_job(env, &job->async, value, false, job->out_of_memory ? "out of memory for scrypt" : "scrypt failed");
  free(job);
}

static napi_value js_scrypt_romix(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  uint8_t *lanes;
  size_t length;
  int64_t r, n;
  if (!bytes_argument(env, argv[0], &lanes, &length, "lanes must be a Uint8Array")) return NULL;
  if (!integer_from_number(env, argv[1], 1, 64, &r, "r must be an integer from 1 to 64")) return NULL;
  if (!integer_from_number(env, argv[2], 2, 16777216, &n, "N must be a power of two from 2 to 2^24")) return NULL;
  if ((n & (n - 1)) != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "N must be a power of two from 2 to 2^24");
    return NULL;
  }
  if (length == 0 || length % (128 * (size_t)r) != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "lanes must hold whole lanes of 128*r bytes");
    return NULL;
  }
  romix_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory for scrypt");
    return NULL;
  }
  job->lanes = lanes;
  job->length = length;
  job->r = (size_t)r;
  job->n = (uint64_t)n;
  napi_value promise = start_job(env, &job->async, job, "ferry.scryptRomix", argv[0], romix_execute, romix_complete);
  if (promise == NULL) free(job);
  return promise;
}

#define FERRY_SCRYPT_PROPERTY {"scryptRomix", NULL, js_scrypt_romix, NULL, NULL, NULL, napi_enumerable, NULL},
#else
#define FERRY_SCRYPT_PROPERTY
#endif
