// `trellis proxy --bootstrap FILE`: a sidecar from a static bootstrap. A bad file is reported with its path, the
// field and what was expected, and the process exits 1 before binding any port. SIGTERM/SIGINT drain gracefully.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseBootstrap } from "../api/bootstrap.ts";
import { ConfigError, TrellisError } from "../api/errors.ts";
import { Proxy } from "../proxy/server.ts";

export async function runProxy(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        bootstrap: { type: "string", short: "c" },
        "drain-timeout": { type: "string" },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`trellis proxy: ${(err as Error).message}\n`);
    return 2;
  }
  const file = values.bootstrap;
  if (!file) {
    process.stderr.write("trellis proxy: --bootstrap FILE is required (the xDS client comes with the control plane)\n");
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    process.stderr.write(`trellis proxy: cannot read bootstrap ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  let proxy: Proxy;
  try {
    const bootstrap = parseBootstrap(text, file);
    if (values["drain-timeout"] !== undefined) {
      const ms = Number(values["drain-timeout"]);
      if (!Number.isFinite(ms) || ms < 0) {
        process.stderr.write(
          `trellis proxy: --drain-timeout expects milliseconds ≥ 0, got "${values["drain-timeout"]}"\n`,
        );
        return 2;
      }
      bootstrap.drainTimeoutMs = ms;
    }
    proxy = new Proxy(bootstrap, { source: file, onQuit: () => process.exit(0) });
    await proxy.start();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TrellisError) {
      process.stderr.write(`trellis proxy: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const addresses = Object.entries(proxy.listenerAddresses())
    .map(([name, a]) => `${name}=${a.address}:${a.port}`)
    .join(" ");
  process.stderr.write(`trellis proxy: live (${addresses}${proxy.adminPort ? ` admin=${proxy.adminPort}` : ""})\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`trellis proxy: ${signal}: draining (up to ${proxy.bootstrap.drainTimeoutMs} ms)\n`);
      void proxy.shutdown().then(() => resolve(0));
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
