// ASCII case-insensitive string comparisons without allocating (no toLowerCase copies), as Envoy's absl helpers
// (EqualsIgnoreCase, StartsWithIgnoreCase, …) do: only A–Z fold, everything else compares exactly.

function fold(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Whether s[offset, offset + p.length) equals p, ignoring ASCII case. The caller checks the bounds. */
function regionEqualsIgnoreCase(s: string, offset: number, p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    if (fold(s.charCodeAt(offset + i)) !== fold(p.charCodeAt(i))) return false;
  }
  return true;
}

export function equalsIgnoreCase(a: string, b: string): boolean {
  return a.length === b.length && regionEqualsIgnoreCase(a, 0, b);
}

export function startsWithIgnoreCase(s: string, prefix: string): boolean {
  return s.length >= prefix.length && regionEqualsIgnoreCase(s, 0, prefix);
}

export function endsWithIgnoreCase(s: string, suffix: string): boolean {
  return s.length >= suffix.length && regionEqualsIgnoreCase(s, s.length - suffix.length, suffix);
}

export function includesIgnoreCase(s: string, needle: string): boolean {
  const last = s.length - needle.length;
  for (let i = 0; i <= last; i++) if (regionEqualsIgnoreCase(s, i, needle)) return true;
  return false;
}

/** Lower-cases A–Z only (Envoy's LowerCaseString / AsciiStrToLower); returns the same string when nothing changes. */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}
