// `trellis <verb> …`: one file per verb; this file only dispatches. Each verb returns the process exit status.

import { runDemo } from "./demo.ts";
import { runProxy } from "./proxy.ts";

const USAGE = `usage: trellis <command> [options]

commands:
  proxy --bootstrap FILE     run a sidecar from a static Envoy-style bootstrap (YAML or JSON)
  demo                       an upstream and two sidecars on this machine, and the curl to try
  help                       this text
`;

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case "proxy":
      return runProxy(rest);
    case "demo":
      return runDemo(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return verb === undefined ? 2 : 0;
    default:
      process.stderr.write(`trellis: unknown command "${verb}"\n\n${USAGE}`);
      return 2;
  }
}
