// The grpc-timeout request header (gRPC over HTTP/2: "TimeoutValue TimeoutUnit", at most 8 digits, unit one of
// H M S m u n). The proxy honours a gRPC caller's deadline: it can only tighten the route's timeout.

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Milliseconds (rounded up, so a deadline is never shortened to 0 by rounding), or undefined if malformed. */
export function parseGrpcTimeoutMs(value: string): number | undefined {
  const n = value.length;
  if (n < 2 || n > 9) return undefined;
  const unit = UNIT_MS[value[n - 1]!];
  if (unit === undefined) return undefined;
  let digits = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    digits = digits * 10 + c;
  }
  return Math.ceil(digits * unit);
}

/** A grpc-timeout value in milliseconds ("250m"), for the deadline the proxy passes upstream. */
export function formatGrpcTimeoutMs(ms: number): string {
  return `${Math.max(0, Math.ceil(ms))}m`;
}
