// `trellis <verb> …`: one file per verb; this file only dispatches. Each verb returns the process exit status.

import { runApply } from "./apply.ts";
import { runDelete } from "./delete.ts";
import { runDemo } from "./demo.ts";
import { runGet } from "./get.ts";
import { runProxy } from "./proxy.ts";
import { runProxyConfig } from "./proxy-config.ts";
import { runProxyStatus } from "./proxy-status.ts";

const USAGE = `usage: trellis <command> [options]

commands:
  proxy --bootstrap FILE     run a sidecar from a static Envoy-style bootstrap (YAML or JSON)
  proxy --xds HOST:PORT[,…] --node-id ID [--service S] [--namespace NS] [--labels k=v,…]
        [--admin-port P] [--outbound-port P]
                             run a sidecar fed by a control plane over ADS (with --bootstrap: both)
  apply -f FILE|DIR|-        validate and store Istio resources (all or none), on the control plane
  get KIND [NAME] [-o yaml|json] [-n NS | -A]
                             stored resources
  delete KIND NAME [-n NS]   remove a stored resource
  proxy-status               each connected proxy: versions sent and ACKed, NACK errors in full
  proxy-config listeners|routes|clusters|endpoints PROXY [-o json|yaml]
                             what the control plane sends a proxy
  demo                       an upstream and two sidecars on this machine, and the curl to try
  help                       this text

Commands that talk to the control plane find it at $TRELLIS_CONTROL (default http://127.0.0.1:15014).
`;

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case "proxy":
      return runProxy(rest);
    case "demo":
      return runDemo(rest);
    case "apply":
      return runApply(rest);
    case "get":
      return runGet(rest);
    case "delete":
      return runDelete(rest);
    case "proxy-status":
      return runProxyStatus(rest);
    case "proxy-config":
      return runProxyConfig(rest);
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
