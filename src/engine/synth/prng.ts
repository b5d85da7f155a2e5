/**
 * Small deterministic PRNG (xoshiro128**, seeded through splitmix32) for synthetic models.
 */

/** splitmix32 step: returns the next state and a well-mixed 32-bit output. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

/** FNV-1a hash of a string mixed with a seed: derives independent streams (one per tensor). */
export function hashSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h)[1];
}

export class Xoshiro128 {
  /** State words; public so hot loops can copy them into locals and write them back. */
  s0: number;
  s1: number;
  s2: number;
  s3: number;

  constructor(seed: number) {
    let st = seed >>> 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, z] = splitmix32(st);
      st = next;
      out.push(z);
    }
    if ((out[0] | out[1] | out[2] | out[3]) === 0) out[0] = 1;
    [this.s0, this.s1, this.s2, this.s3] = out as [number, number, number, number];
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return r;
  }

  /** Uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /**
   * Approximately normal N(0, 1): sum of the four bytes of one 32-bit draw (Irwin–Hall),
   * centred and scaled. Range about ±3.45. Cheap enough for hundreds of millions of weights.
   */
  nextNormalish(): number {
    const u = this.nextU32();
    return ((u & 255) + ((u >>> 8) & 255) + ((u >>> 16) & 255) + (u >>> 24) - 510) * IRWIN_HALL4_INV_STD;
  }
}

/** 1 / std of the sum of four uniform bytes (sqrt(4 * (256² - 1) / 12)). */
export const IRWIN_HALL4_INV_STD = 1 / Math.sqrt((4 * (256 * 256 - 1)) / 12);
