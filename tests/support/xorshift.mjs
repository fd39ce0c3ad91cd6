// A small deterministic generator (xorshift32: shifts 13, 17, 5) so a failing randomised run
// reproduces from its seed.
export class XorShift {
  constructor(seed) {
    this.state = (seed >>> 0) || 1;
  }

  next() {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }

  /** A value in 0..n (0 when n is 0). */
  below(n) {
    return n > 0 ? this.next() % n : 0;
  }
}
