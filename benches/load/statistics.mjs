// The statistics of the load benchmark's rounds.

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

/** Of one worker's rounds, the one with the median req/s (the lower middle of an even count). */
export function medianRound(results) {
  const sorted = [...results].sort((a, b) => a.rps - b.rps);
  return sorted[(sorted.length - 1) >> 1];
}
