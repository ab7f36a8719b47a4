// envoy.type.v3.FractionalPercent and the per-request decision it stands for. Envoy decides with an integer
// random value (`random % denominator < numerator`); here the injected uniform random in [0, 1) is scaled by the
// denominator, which is the same test with the same probability and lets tests seed the sequence. Each decision
// is one fresh draw: percentages are honest per request, never spread over a window.

import type { Fields } from "../../../api/xds/parse/fields.ts";

/** FractionalPercent.DenominatorType, as numbers. */
export const DENOMINATORS = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;
const DENOMINATOR_NAMES = ["HUNDRED", "TEN_THOUSAND", "MILLION"] as const;

export class FractionalPercent {
  /** Numerator above the denominator is 100 % (as Envoy's ProtobufPercentHelper treats it). */
  readonly numerator: number;
  readonly denominator: number;

  constructor(numerator: number, denominator: number) {
    this.numerator = Math.min(numerator, denominator);
    this.denominator = denominator;
  }

  /**
   * Whether this request is in the fraction. 0 % and 100 % decide without drawing, so the common "off" and
   * "always" configurations cost a comparison and nothing else.
   */
  sample(random: () => number): boolean {
    const n = this.numerator;
    if (n === 0) return false;
    if (n === this.denominator) return true;
    return random() * this.denominator < n;
  }

  /**
   * The fraction a header asks for (Envoy's HeaderPercentageProvider): the header's integer numerator over this
   * denominator, never more than this numerator; absent or not an unsigned integer: this fraction unchanged.
   */
  sampleWithHeader(header: string | undefined, random: () => number): boolean {
    if (header === undefined) return this.sample(random);
    const asked = parseUnsigned(header);
    if (asked < 0) return this.sample(random);
    const n = Math.min(asked, this.numerator);
    if (n === 0) return false;
    if (n === this.denominator) return true;
    return random() * this.denominator < n;
  }
}

/** The protobuf default of an absent percentage: 0 % (Envoy injects nothing without one). */
export const ZERO_PERCENT = new FractionalPercent(0, DENOMINATORS.HUNDRED);

const PERCENT_SPEC = { handled: ["numerator", "denominator"] } as const;

/** Reads a FractionalPercent at `fields.<name>`; absent → 0 %. */
export function readFractionalPercent(fields: Fields, name: string): FractionalPercent {
  if (!fields.has(name)) return ZERO_PERCENT;
  const message = fields.message(name, PERCENT_SPEC);
  const numerator = message.integer("numerator", 0);
  const denominator = message.enumValue("denominator", DENOMINATOR_NAMES, "HUNDRED");
  return new FractionalPercent(numerator, DENOMINATORS[denominator]);
}

/**
 * A header value as an unsigned decimal integer (what absl::SimpleAtoi accepts for the fault headers, surrounding
 * whitespace allowed); -1 when it is not one. No allocation: the digits are read in place.
 */
export function parseUnsigned(value: string): number {
  let start = 0;
  let end = value.length;
  while (start < end && isSpace(value.charCodeAt(start))) start++;
  while (end > start && isSpace(value.charCodeAt(end - 1))) end--;
  if (start < end && value.charCodeAt(start) === 43 /* + */) start++;
  if (start === end) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}
