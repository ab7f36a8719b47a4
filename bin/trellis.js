#!/usr/bin/env -S node --max-semi-space-size=1
// Entry point of the `trellis` command. The sources are TypeScript. On first run (and whenever a source file is
// newer than the bundle) they are bundled with esbuild into .build/trellis.mjs — plain JavaScript, no loader hooks
// in the process — because the sidecar's hot path and its memory are the product: running through a TypeScript
// loader costs a worker thread, tens of MB and per-closure helper calls. Bundling takes well under a second.
// The shebang's --max-semi-space-size=1: a sidecar allocates only short-lived objects per request, and a small
// young generation keeps its memory near a bare Node process (scavenging 1 MiB is cheap; see bench/results).
import { statSync, readdirSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, ".build", "trellis.mjs");

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function bundleMtime() {
  try {
    return statSync(bundle).mtimeMs;
  } catch {
    return -1;
  }
}

const sources = Math.max(
  newestSource(join(root, "src")),
  newestSource(join(root, "examples")),
  statSync(fileURLToPath(import.meta.url)).mtimeMs,
);
if (bundleMtime() < sources) {
  const { buildSync } = await import("esbuild");
  mkdirSync(dirname(bundle), { recursive: true });
  // Written to a temporary name and renamed, so a concurrent start never imports half a file.
  const tmp = `${bundle}.${process.pid}.tmp.mjs`;
  buildSync({
    entryPoints: [join(root, "src", "cli", "main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: false,
    outfile: tmp,
    // Dependencies are bundled too (one module to load: less memory); CommonJS ones among them need `require`.
    banner: {
      js: 'import { createRequire as __trellisRequire } from "node:module"; const require = __trellisRequire(import.meta.url);',
    },
    logLevel: "error",
  });
  const { renameSync } = await import("node:fs");
  renameSync(tmp, bundle);
}

const { main } = await import(pathToFileURL(bundle).href);
process.exitCode = await main(process.argv.slice(2));
