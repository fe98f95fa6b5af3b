/**
 * The statistics `nestsim compare` uses: Welch's t-test on the means of two samples (unequal
 * variances, Welch-Satterthwaite degrees of freedom), the Mann-Whitney U test on two samples'
 * distributions (normal approximation with the tie correction), and Holm's step-down adjustment
 * for testing many figures at once. Two-sided p-values throughout.
 *
 * The t distribution's CDF comes from the regularized incomplete beta function, evaluated by its
 * continued fraction (modified Lentz); the normal CDF from the complementary error function.
 */

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one value. */
  sd: number;
}

export function summarize(xs: readonly number[]): Summary {
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, sd: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const ss = xs.reduce((a, x) => a + (x - mean) ** 2, 0);
  return { n, mean, sd: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    // Even step.
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    // Odd step.
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-14) break;
  }
  return f;
}

/** The regularized incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** Two-sided p-value of Student's t with `df` degrees of freedom. */
export function tTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** erfc(x), to about 1e-7 relative (Numerical Recipes' Chebyshev fit form, written out). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal z. */
export function zTwoSided(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

export interface TestResult {
  test: 'welch' | 'mann-whitney';
  statistic: number;
  p: number;
}

/**
 * Welch's t-test of equal means; needs at least 2 values a side. Two samples with no variance at
 * all are equal (p = 1) or certainly different (p = 0).
 */
export function welch(a: readonly number[], b: readonly number[]): TestResult | undefined {
  const sa = summarize(a);
  const sb = summarize(b);
  if (sa.n < 2 || sb.n < 2) return undefined;
  const va = (sa.sd * sa.sd) / sa.n;
  const vb = (sb.sd * sb.sd) / sb.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) return { test: 'welch', statistic: sa.mean === sb.mean ? 0 : Infinity, p: sa.mean === sb.mean ? 1 : 0 };
  const t = (sb.mean - sa.mean) / se;
  const df = (va + vb) ** 2 / ((va * va) / (sa.n - 1) + (vb * vb) / (sb.n - 1));
  return { test: 'welch', statistic: t, p: tTwoSided(t, df) };
}

/**
 * Mann-Whitney U test of equal distributions (normal approximation with the tie correction; fine
 * from about 8 values a side). Needs at least 2 values a side.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): TestResult | undefined {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < 2 || n2 < 2) return undefined;
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const n = n1 + n2;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1].v === all[i].v) j++;
    const rank = (i + j) / 2 + 1;
    const ties = j - i + 1;
    tieTerm += ties ** 3 - ties;
    for (let k = i; k <= j; k++) if (all[k].g === 0) rankSumA += rank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { test: 'mann-whitney', statistic: u, p: 1 };
  // Continuity correction toward the mean.
  const z = (u - mean - Math.sign(u - mean) * 0.5) / Math.sqrt(variance);
  return { test: 'mann-whitney', statistic: u, p: zTwoSided(z) };
}

/** Holm's step-down adjustment: adjusted p-values in the input order (NaN stays NaN). */
export function holm(ps: readonly number[]): number[] {
  const idx = ps.map((p, i) => ({ p, i })).filter((x) => !Number.isNaN(x.p)).sort((x, y) => x.p - y.p);
  const m = idx.length;
  const out = ps.map(() => NaN);
  let running = 0;
  idx.forEach((x, k) => {
    running = Math.max(running, Math.min(1, (m - k) * x.p));
    out[x.i] = running;
  });
  return out;
}
