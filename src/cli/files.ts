// `-f FILE|DIR|-` as kubectl reads it: one file, every .yaml/.yml/.json file of a directory (sorted, not
// recursive), or standard input. Each keeps its name so that errors can say which file they are about.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export interface NamedText {
  name: string;
  content: string;
}

export function readInputs(path: string, stdin: () => string = () => readFileSync(0, "utf8")): NamedText[] {
  if (path === "-") return [{ name: "<stdin>", content: stdin() }];
  const stat = statSync(path);
  if (!stat.isDirectory()) return [{ name: path, content: readFileSync(path, "utf8") }];
  return readdirSync(path)
    .filter((f) => /\.(ya?ml|json)$/i.test(f))
    .sort()
    .map((f) => ({ name: join(path, f), content: readFileSync(join(path, f), "utf8") }));
}
