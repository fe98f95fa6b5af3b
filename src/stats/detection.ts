/**
 * Detection statistics of a stress campaign: how often a round catches what it looks for (a
 * mutation, a window), and how long catching it takes. Each round is an independent trial with
 * its own seed, so the detecting rounds are binomial: the share that detect, with a Wilson score
 * interval (95%), and the expected rounds to a first detection, 1/p (geometric), with the interval
 * the share's bounds give. Times to detect are rounds times a round's mean wall (or modeled)
 * time: an upper estimate when rounds stop at their first violation (fail-fast), since the
 * detecting round is then cut short.
 */

/** A 95% interval; a bound is null where none exists (no detection: no upper bound on rounds). */
export type Interval = [number | null, number | null];

export interface Estimate {
  /** null when nothing was detected (the expectation is unbounded). */
  estimate: number | null;
  ci95: Interval;
}

export interface Detection {
  rounds: number;
  detected: number;
  /** Share of rounds that detected, and its Wilson 95% interval. */
  share: number;
  shareCi95: [number, number];
  roundsToDetect: Estimate;
  wallMsToDetect: Estimate;
  /** null when the rounds ran without modeled time. */
  modeledNsToDetect: Estimate | null;
}

const Z95 = 1.959964;

/** Wilson score interval of k successes in n trials. */
export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Expected rounds to a first detection (1/p) scaled by `perRound`, with the interval of the share. */
function toDetect(share: number, ci: [number, number], perRound: number): Estimate {
  const r = (p: number): number | null => (p > 0 ? perRound / p : null);
  return { estimate: r(share), ci95: [r(ci[1]), r(ci[0])] };
}

/** Detection statistics of rounds, each with whether it detected, its wall time and its modeled time (or null). */
export function detectionOf(rounds: ReadonlyArray<{ detected: boolean; wallMs: number; modeledNs: number | null }>): Detection {
  const n = rounds.length;
  const k = rounds.filter((r) => r.detected).length;
  const share = n > 0 ? k / n : 0;
  const ci = wilson(k, n);
  const mean = (xs: number[]): number => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const modeled = rounds.map((r) => r.modeledNs).filter((x): x is number => x !== null);
  const round3 = (e: Estimate): Estimate => {
    const f = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);
    return { estimate: f(e.estimate), ci95: [f(e.ci95[0]), f(e.ci95[1])] };
  };
  return {
    rounds: n,
    detected: k,
    share: Math.round(share * 1e4) / 1e4,
    shareCi95: [Math.round(ci[0] * 1e4) / 1e4, Math.round(ci[1] * 1e4) / 1e4],
    roundsToDetect: round3(toDetect(share, ci, 1)),
    wallMsToDetect: round3(toDetect(share, ci, mean(rounds.map((r) => r.wallMs)))),
    modeledNsToDetect: modeled.length === n && n > 0 ? round3(toDetect(share, ci, mean(modeled))) : null,
  };
}
