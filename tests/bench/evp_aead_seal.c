/*
 * The per-packet work an ESP AEAD seal needs, done in C through OpenSSL's
 * EVP API with one context and the key set once, as the libcrypto backend
 * (ffi/libcrypto.ts) does it: set a fresh 12-byte nonce, feed 8 bytes of
 * AAD (SPI + sequence number), encrypt `bytes` bytes, finalise, read the
 * 16-byte tag. `openssl speed -evp` times less than this for
 * ChaCha20-Poly1305: one EncryptUpdate, no nonce and no tag.
 *
 * Built and run by tests/bench/_timing.ts (`evpAeadSealNs`):
 *   gcc -O2 evp_aead_seal.c -lcrypto && ./a.out <cipher> <bytes> <ms>
 * Prints the CPU ns per seal.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <cipher> <bytes> <ms>\n", argv[0]);
    return 2;
  }
  int bytes = atoi(argv[2]);
  double budget = atoi(argv[3]) / 1000.0;
  EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, argv[1], NULL);
  if (cipher == NULL || bytes <= 0 || bytes > 65536) {
    fprintf(stderr, "unknown cipher or bad size\n");
    return 1;
  }
  unsigned char key[32] = {0x42}, nonce[12] = {0x42}, aad[8] = {0}, tag[16];
  unsigned char *buf = calloc(1, bytes + 16);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!EVP_EncryptInit_ex2(ctx, cipher, key, nonce, NULL)) return 1;
  OSSL_PARAM get_tag[2] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof tag),
      OSSL_PARAM_construct_end(),
  };
  unsigned long long seq = 0;
  long done = 0;
  int n;
  double t0 = cpu_seconds(), t = t0;
  while (t - t0 < budget) {
    for (int i = 0; i < 1000; i++) {
      seq++;
      for (int k = 0; k < 8; k++) nonce[4 + k] = aad[k] = (unsigned char)(seq >> (56 - 8 * k));
      if (!EVP_EncryptInit_ex2(ctx, NULL, NULL, nonce, NULL) ||
          !EVP_EncryptUpdate(ctx, NULL, &n, aad, sizeof aad) ||
          !EVP_EncryptUpdate(ctx, buf, &n, buf, bytes) ||
          !EVP_EncryptFinal_ex(ctx, buf + n, &n) || !EVP_CIPHER_CTX_get_params(ctx, get_tag)) {
        fprintf(stderr, "seal failed\n");
        return 1;
      }
    }
    done += 1000;
    t = cpu_seconds();
  }
  printf("%.1f\n", (t - t0) * 1e9 / done);
  return 0;
}
