/**
 * Seeded PRNG for the hot path: xoshiro128** (Blackman & Vigna), 128 bits of state in a
 * Uint32Array, 32-bit integer arithmetic only (Math.imul, no BigInt, no allocation per call).
 *
 * `new Prng(seed, stream)` is deterministic for the pair, and different pairs start from
 * different states: each vCPU / actor worker takes its own stream of the run's seed.
 */

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;
/** Outputs discarded after seeding so that states differing in one word diverge fully. */
const WARMUP_ROUNDS = 16;

/** murmur3's 32-bit finaliser: a bijection on uint32 with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Prng {
  private readonly s = new Uint32Array(4);

  /**
   * @param seed non-negative safe integer (the config's `seed`)
   * @param stream non-negative safe integer, e.g. the worker's index
   */
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`Prng seed must be a non-negative safe integer, got ${seed}`);
    if (!Number.isSafeInteger(stream) || stream < 0) throw new RangeError(`Prng stream must be a non-negative safe integer, got ${stream}`);
    // Each input word goes through a bijection into its own state word, so distinct
    // (seed, stream) pairs give distinct states (xoshiro's step is a bijection too).
    const s = this.s;
    s[0] = fmix32((seed >>> 0) ^ 0x9e3779b9);
    s[1] = fmix32(Math.floor(seed / TWO_32) ^ 0x6a09e667);
    s[2] = fmix32((stream >>> 0) ^ 0xbb67ae85);
    s[3] = fmix32(Math.floor(stream / TWO_32) ^ 0x3c6ef372);
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
    for (let i = 0; i < WARMUP_ROUNDS; i++) this.nextU32();
  }

  /** Uniform integer in [0, 2^32). */
  nextU32(): number {
    const s = this.s;
    const s0 = s[0];
    const s1 = s[1];
    const s2 = s[2];
    const s3 = s[3];
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s[0] = s0 ^ n3;
    s[1] = s1 ^ n2;
    s[2] = n2 ^ t;
    s[3] = (n3 << 11) | (n3 >>> 21);
    return result;
  }

  /**
   * Uniform integer in [0, n) for 1 <= n <= 2^32 with the rejection limit precomputed by the
   * caller (`rejectionLimit(n)`): the per-access form of `nextBelow`, no float modulo.
   */
  nextBelowLimit(n: number, limit: number): number {
    let r = this.nextU32();
    while (r >= limit) r = this.nextU32();
    return r % n;
  }

  /** Uniform float in [0, 1) with 53 random bits (two draws). */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_53;
  }

  /**
   * Uniform integer in [0, n), unbiased (rejection of the short last block), for 1 <= n <= 2^32.
   * Larger n (up to 2^53) use the 53-bit float, whose bias is below 2^-20.
   */
  nextBelow(n: number): number {
    if (n <= TWO_32) {
      if (!(n >= 1)) throw new RangeError(`nextBelow needs n >= 1, got ${n}`);
      const limit = TWO_32 - (TWO_32 % n); // accept r < limit: a whole number of blocks of n
      let r = this.nextU32();
      while (r >= limit) r = this.nextU32();
      return r % n;
    }
    return Math.floor(this.nextFloat() * n);
  }
}

/** The acceptance limit `nextBelowLimit` needs for n (a whole number of blocks of n below 2^32). */
export function rejectionLimit(n: number): number {
  return TWO_32 - (TWO_32 % n);
}
