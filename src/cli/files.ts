// `-f FILE|DIR|-` as kubectl reads it: one file, every .yaml/.yml/.json file of a directory (sorted; `apply` reads
// only the directory itself, as `kubectl apply -f DIR` without -R; `analyze` reads its subdirectories too, as
// `istioctl analyze DIR` does), or standard input. Each keeps its name so that errors can say which file they are
// about.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export interface NamedText {
  name: string;
  content: string;
}

export interface ReadOptions {
  /** Read subdirectories too (depth first, sorted by name at each level). */
  recursive?: boolean;
}

export function readInputs(
  path: string,
  stdin: () => string = () => readFileSync(0, "utf8"),
  options: ReadOptions = {},
): NamedText[] {
  if (path === "-") return [{ name: "<stdin>", content: stdin() }];
  const stat = statSync(path);
  if (!stat.isDirectory()) return [{ name: path, content: readFileSync(path, "utf8") }];
  return readDirectory(path, options.recursive === true);
}

function readDirectory(dir: string, recursive: boolean): NamedText[] {
  const out: NamedText[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive && !entry.name.startsWith(".")) out.push(...readDirectory(path, true));
    } else if (/\.(ya?ml|json)$/i.test(entry.name) && statSync(path).isFile())
      out.push({ name: path, content: readFileSync(path, "utf8") });
  }
  return out;
}
