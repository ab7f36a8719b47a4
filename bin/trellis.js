#!/usr/bin/env -S node --max-semi-space-size=1
// Entry point of the `trellis` command. The sources are TypeScript. On first run (and whenever a source file is
// newer than the bundle) they are bundled with esbuild into .build/current/ — plain JavaScript, no loader hooks in
// the process — because the sidecar's hot path and its memory are the product: running through a TypeScript loader
// costs a worker thread, tens of MB and per-closure helper calls. Bundling takes well under a second. The bundle
// is split by verb (each verb is a dynamic import), so `trellis proxy` never loads the control plane's code.
// The shebang's --max-semi-space-size=1: a sidecar allocates only short-lived objects per request, and a small
// young generation keeps its memory near a bare Node process (scavenging 1 MiB is cheap; see bench/results).
import { statSync, readdirSync, readlinkSync, mkdirSync, renameSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const buildDir = join(root, ".build");
const bundle = join(buildDir, "current", "main.js");

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
  mkdirSync(buildDir, { recursive: true });
  // Built into a directory of its own, then `current` is switched to it with one rename, so a concurrent start
  // never imports half a bundle.
  const out = join(buildDir, `b-${Date.now()}-${process.pid}`);
  buildSync({
    entryPoints: [join(root, "src", "cli", "main.ts")],
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: false,
    outdir: out,
    outExtension: { ".js": ".js" },
    // etcd3 finds its .proto files through __dirname, which a bundle does not have: it is loaded from node_modules.
    external: ["etcd3"],
    // Dependencies are bundled too (one module to load: less memory); CommonJS ones among them need `require`.
    banner: {
      js: 'import { createRequire as __trellisRequire } from "node:module"; const require = __trellisRequire(import.meta.url);',
    },
    logLevel: "error",
  });
  const link = join(buildDir, `current.${process.pid}`);
  let previous;
  try {
    previous = readlinkSync(join(buildDir, "current"));
  } catch {
    previous = undefined;
  }
  symlinkSync(out, link);
  renameSync(link, join(buildDir, "current"));
  // The bundle just replaced is stamped with the time it stopped being current: a process that started from it a
  // moment ago is still importing its chunks, so its age must count from now, not from when it was built.
  if (previous !== undefined) {
    const now = new Date();
    try {
      utimesSync(previous, now, now);
    } catch {
      // already removed by another start
    }
  }
  // Older bundles are removed after a while: a process started from one may still import its verb's chunk.
  for (const entry of readdirSync(buildDir)) {
    const path = join(buildDir, entry);
    if (entry.startsWith("b-") && path !== out && Date.now() - statSync(path).mtimeMs > 10 * 60_000)
      rmSync(path, { recursive: true, force: true });
  }
}

const { main } = await import(pathToFileURL(bundle).href);
process.exitCode = await main(process.argv.slice(2));
