/**
 * The MODP groups of RFC 3526 (More Modular Exponential Diffie-Hellman
 * groups for IKE), generator 2, as printed in RFC 3526 sections 3-7 (the hex
 * here was taken from OpenSSL's copy of those tables). The test
 * tests/crypto/key_exchange_test.ts recomputes each prime from the RFC's
 * formula p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k) with pi
 * computed independently, and compares with node:crypto's getDiffieHellman.
 *
 * @module
 */

/** The group prime p per IANA Transform Type 4 id. */
export const MODP_PRIMES: Readonly<Record<14 | 15 | 16 | 17 | 18, bigint>> = {
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
  ), /** Group 17: 6144-bit MODP, RFC 3526 section 6. */
  17: BigInt(
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
      "93b4ea988d8fddc186ffb7dc90a6c08f4df435c93402849236c3fab4d27c7026" +
      "c1d4dcb2602646dec9751e763dba37bdf8ff9406ad9e530ee5db382f413001ae" +
      "b06a53ed9027d831179727b0865a8918da3edbebcf9b14ed44ce6cbaced4bb1b" +
      "db7f1447e6cc254b332051512bd7af426fb8f401378cd2bf5983ca01c64b92ec" +
      "f032ea15d1721d03f482d7ce6e74fef6d55e702f46980c82b5a84031900b1c9e" +
      "59e7c97fbec7e8f323a97a7e36cc88be0f1d45b7ff585ac54bd407b22b4154aa" +
      "cc8f6d7ebf48e1d814cc5ed20f8037e0a79715eef29be32806a1d58bb7c5da76" +
      "f550aa3d8a1fbff0eb19ccb1a313d55cda56c9ec2ef29632387fe8d76e3c0468" +
      "043e8f663f4860ee12bf2d5b0b7474d6e694f91e6dcc4024ffffffffffffffff",
  ),
  /** Group 18: 8192-bit MODP, RFC 3526 section 7. */
  18: BigInt(
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
      "93b4ea988d8fddc186ffb7dc90a6c08f4df435c93402849236c3fab4d27c7026" +
      "c1d4dcb2602646dec9751e763dba37bdf8ff9406ad9e530ee5db382f413001ae" +
      "b06a53ed9027d831179727b0865a8918da3edbebcf9b14ed44ce6cbaced4bb1b" +
      "db7f1447e6cc254b332051512bd7af426fb8f401378cd2bf5983ca01c64b92ec" +
      "f032ea15d1721d03f482d7ce6e74fef6d55e702f46980c82b5a84031900b1c9e" +
      "59e7c97fbec7e8f323a97a7e36cc88be0f1d45b7ff585ac54bd407b22b4154aa" +
      "cc8f6d7ebf48e1d814cc5ed20f8037e0a79715eef29be32806a1d58bb7c5da76" +
      "f550aa3d8a1fbff0eb19ccb1a313d55cda56c9ec2ef29632387fe8d76e3c0468" +
      "043e8f663f4860ee12bf2d5b0b7474d6e694f91e6dbe115974a3926f12fee5e4" +
      "38777cb6a932df8cd8bec4d073b931ba3bc832b68d9dd300741fa7bf8afc47ed" +
      "2576f6936ba424663aab639c5ae4f5683423b4742bf1c978238f16cbe39d652d" +
      "e3fdb8befc848ad922222e04a4037c0713eb57a81a23f0c73473fc646cea306b" +
      "4bcbc8862f8385ddfa9d4b7fa2c087e879683303ed5bdd3a062b3cf5b3a278a6" +
      "6d2a13f83f44f82ddf310ee074ab6a364597e899a0255dc164f31cc50846851d" +
      "f9ab48195ded7ea1b1d510bd7ee74d73faf36bc31ecfa268359046f4eb879f92" +
      "4009438b481c6cd7889a002ed5ee382bc9190da6fc026e479558e4475677e9aa" +
      "9e3050e2765694dfc81f56e880b96e7160c980dd98edd3dfffffffffffffffff",
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
 * 3072: 130-210, 4096: 150-240, 6144: 170-270, 8192: 190-310), rounded up;
 * 256 bits for the weak groups.
 */
export const MODP_EXPONENT_BYTES: Readonly<Record<1 | 2 | 5 | 14 | 15 | 16 | 17 | 18, number>> = {
  1: 32,
  2: 32,
  5: 32,
  14: 40,
  15: 54,
  16: 60,
  17: 68,
  18: 78,
};
