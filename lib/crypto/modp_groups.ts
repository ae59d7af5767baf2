/**
 * The MODP groups of RFC 3526 (More Modular Exponential Diffie-Hellman
 * groups for IKE), generator 2, as printed in RFC 3526 sections 3-5 (the hex
 * here was taken from OpenSSL's copy of those tables). The test
 * tests/crypto/key_exchange_test.ts recomputes each prime from the RFC's
 * formula p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k) with pi
 * computed independently, and compares with node:crypto's getDiffieHellman.
 *
 * @module
 */

/** The group prime p per IANA Transform Type 4 id. */
export const MODP_PRIMES: Readonly<Record<14 | 15 | 16, bigint>> = {
  /** Group 14: 2048-bit MODP, RFC 3526 section 3. */
  14: BigInt(
    "0x" +
      "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
      "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
      "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
      "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05" +
      "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb" +
      "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b" +
      "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718" +
      "3995497cea956ae515d2261898fa051015728e5a8aacaa68ffffffffffffffff",
  ),
  /** Group 15: 3072-bit MODP, RFC 3526 section 4. */
  15: BigInt(
    "0x" +
      "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
      "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
      "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
      "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05" +
      "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb" +
      "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b" +
      "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718" +
      "3995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33" +
      "a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7" +
      "abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864" +
      "d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e2" +
      "08e24fa074e5ab3143db5bfce0fd108e4b82d120a93ad2caffffffffffffffff",
  ),
  /** Group 16: 4096-bit MODP, RFC 3526 section 5. */
  16: BigInt(
    "0x" +
      "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
      "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
      "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
      "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05" +
      "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb" +
      "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b" +
      "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718" +
      "3995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33" +
      "a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7" +
      "abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864" +
      "d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e2" +
      "08e24fa074e5ab3143db5bfce0fd108e4b82d120a92108011a723c12a787e6d7" +
      "88719a10bdba5b2699c327186af4e23c1a946834b6150bda2583e9ca2ad44ce8" +
      "dbbbc2db04de8ef92e8efc141fbecaa6287c59474e6bc05d99b2964fa090c3a2" +
      "233ba186515be7ed1f612970cee2d7afb81bdd762170481cd0069127d5b05aa9" +
      "93b4ea988d8fddc186ffb7dc90a6c08f4df435c934063199ffffffffffffffff",
  ),
};

/**
 * The weak MODP groups, only for peers that cannot do better and only when
 * explicitly allowed (RFC 8247 section 2.4: group 1 MUST NOT, 2 SHOULD NOT,
 * 5 SHOULD NOT): group 1 (768-bit) and 2 (1024-bit) of RFC 2409 section 6,
 * group 5 (1536-bit) of RFC 3526 section 2. Same check in the tests.
 */
export const WEAK_MODP_PRIMES: Readonly<Record<1 | 2 | 5, bigint>> = {
  1: BigInt(
    "0x" +
      "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
      "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
      "4fe1356d6d51c245e485b576625e7ec6f44c42e9a63a3620ffffffffffffffff",
  ),
  2: BigInt(
    "0x" +
      "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
      "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
      "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
      "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff",
  ),
  5: BigInt(
    "0x" +
      "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
      "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
      "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
      "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05" +
      "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb" +
      "9ed529077096966d670c354e4abc9804f1746c08ca237327ffffffffffffffff",
  ),
};

/** The generator of every RFC 2409/3526 group. */
export const MODP_GENERATOR = 2n;

/**
 * Private exponent lengths in bytes: at least twice the group's symmetric
 * strength estimate of RFC 3526 section 8 (2048: 110-160 bits,
 * 3072: 130-210, 4096: 150-240), rounded up; 256 bits for the weak groups.
 */
export const MODP_EXPONENT_BYTES: Readonly<Record<1 | 2 | 5 | 14 | 15 | 16, number>> = {
  1: 32,
  2: 32,
  5: 32,
  14: 40,
  15: 54,
  16: 60,
};
