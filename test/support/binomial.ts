// Statistical bounds for tests that count random decisions (splits, fault and mirror percentages).

/** Two-sided 99.9 % bounds for a binomial count (normal approximation, z = 3.29). */
export function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 3.29 * sd, n * p + 3.29 * sd];
}
