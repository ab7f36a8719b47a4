// `trellis <verb> …`: one file per verb; this file only dispatches. Each verb returns the process exit status.

const USAGE = `usage: trellis <command> [options]

commands:
  proxy --bootstrap FILE     run a sidecar from a static Envoy-style bootstrap (YAML or JSON)
  proxy --xds HOST:PORT[,…] --node-id ID [--service S] [--namespace NS] [--labels k=v,…] [--locality R/Z/S]
        [--admin-port P] [--outbound-port P] [--xds-protocol delta|sotw]
                             run a sidecar fed by a control plane over ADS, delta by default (with --bootstrap: both)
  up [--store etcd://H:P,…] [--data-dir DIR] [--mesh-config FILE] [--address A] [--xds-port P] [--api-port P]
                             the control plane: ADS on 15010, HTTP API on 15014; Istio's MeshConfig from FILE
  apply -f FILE|DIR|-        validate and store Istio resources (all or none), on the control plane
  analyze [-f FILE|DIR|-]… [--offline]
                             cross-resource problems (undefined subsets, unknown hosts, conflicts), explained
  get KIND [NAME] [-o yaml|json] [-n NS | -A]
                             stored resources; \`get meshconfig\`: the MeshConfig in force
  delete KIND NAME [-n NS]   remove a stored resource
  proxy-status               each connected proxy: versions sent and ACKed, NACK errors in full
  proxy-config listeners|routes|clusters|endpoints PROXY [-o json|yaml]
                             what the control plane sends a proxy
  demo                       an upstream and two sidecars on this machine, and the curl to try
  help                       this text

Commands that talk to the control plane find it at $TRELLIS_CONTROL (default http://127.0.0.1:15014).
`;

// Each verb is loaded when it runs (a separate chunk of the bundle): a sidecar process never loads the control
// plane's code, nor the control plane the proxy's.
export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case "proxy":
      return (await import("./proxy.ts")).runProxy(rest);
    case "demo":
      return (await import("./demo.ts")).runDemo(rest);
    case "up":
      return (await import("./up.ts")).runUp(rest);
    case "apply":
      return (await import("./apply.ts")).runApply(rest);
    case "analyze":
      return (await import("./analyze.ts")).runAnalyze(rest);
    case "get":
      return (await import("./get.ts")).runGet(rest);
    case "delete":
      return (await import("./delete.ts")).runDelete(rest);
    case "proxy-status":
      return (await import("./proxy-status.ts")).runProxyStatus(rest);
    case "proxy-config":
      return (await import("./proxy-config.ts")).runProxyConfig(rest);
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
