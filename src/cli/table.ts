// Plain column tables for CLI output (kubectl's style: upper-case headers, left-aligned, three spaces between).

export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  return (
    all
      .map((r) =>
        r
          .map((cell, c) => (cell ?? "").padEnd(widths[c]!))
          .join("   ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
