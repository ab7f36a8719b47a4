// `trellis <verb> …`: the commands, their options, help and usage errors, all from commander (DESIGN.md §4: one
// library, so every verb behaves alike). This file only declares and dispatches: each verb's code is in its own
// file, loaded when it runs (a separate chunk of the bundle), so a sidecar process never loads the control plane's
// code, nor the control plane the proxy's. Each verb returns the process exit status: 0 done, 1 failed, 2 usage.

import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Argument, Command, CommanderError, Option } from "commander";
import type { AnalyzeOptions } from "./analyze.ts";
import type { ApplyOptions } from "./apply.ts";
import type { DeleteOptions } from "./delete.ts";
import type { GatewayOptions } from "./gateway.ts";
import type { GetOptions } from "./get.ts";
import type { ProxyConfigOptions } from "./proxy-config.ts";
import type { ProxyStatusOptions } from "./proxy-status.ts";
import type { PsOptions } from "./ps.ts";
import type { ProxyOptions } from "./proxy.ts";
import type { RunCliOptions } from "./run.ts";
import type { UpOptions } from "./up.ts";
import type { CreateSecretOptions } from "./secret.ts";

const CONTROL_NOTE =
  "Commands that talk to the control plane find it at $TRELLIS_CONTROL (default http://127.0.0.1:15014).";

/** The version of this checkout (package.json, found upwards from this module: it runs from src/ or the bundle). */
export function trellisVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
        if (pkg.name === "trellis" && typeof pkg.version === "string") return pkg.version;
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) return "unknown";
    dir = up;
  }
}

function versionLine(): string {
  return `trellis ${trellisVersion()} (node ${process.version})`;
}

/** -f given several times (kubectl's way), collected in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function example(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

/** The program, built afresh for each call (tests call main() many times in one process). */
function program(setStatus: (status: number) => void): Command {
  const prog = new Command("trellis")
    .description("Trellis: a service mesh — sidecar proxy, control plane over xDS, and this CLI.")
    .usage("<command> [options]")
    .version(versionLine(), "-V, --version", "print the version of trellis and of node")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command")
    .showSuggestionAfterError(true)
    // The program's own options (-V, --version) only before the verb: `trellis run --version v2` is run's.
    .enablePositionalOptions()
    .exitOverride()
    .addHelpText(
      "after",
      `\n${CONTROL_NOTE}\nRun \`trellis <command> --help\` for a command's options and an example.\n`,
    );

  // The verbs' own actions set the status; commander's errors are turned into status 2 by main().
  const run = (status: Promise<number>): Promise<void> => status.then(setStatus);

  prog
    .command("proxy")
    .description("run a sidecar: from a static Envoy-style bootstrap (YAML or JSON), fed by a control plane, or both")
    .option("-c, --bootstrap <file>", "a static Envoy v3 bootstrap (YAML or JSON)")
    .option("--xds <host:port,...>", "control plane(s) to fetch configuration from over ADS")
    .option("--node-id <id>", "this sidecar's node id (unique per sidecar; required with --xds)")
    .option("--service <name>", "the service this sidecar belongs to")
    .option("--namespace <ns>", "the sidecar's namespace")
    .option("--labels <k=v,...>", "the workload's labels (subsets select on them)")
    .option("--locality <region/zone/subzone>", "the workload's locality")
    .option("--admin-port <port>", "admin interface port on 127.0.0.1 (default 15000 with --xds)")
    .option("--outbound-port <port>", "the outbound listener's port (with --xds)")
    .option("--interception-mode <mode>", "REDIRECT: the workload's traffic is captured by iptables (node metadata)")
    .option("--instance-ips <ip,...>", "the workload's addresses (default: the machine's)")
    .addOption(
      new Option("--xds-protocol <protocol>", "ADS variant (default delta)").choices(["delta", "sotw"] as const),
    )
    .option("--drain-timeout <ms>", "how long SIGTERM waits for connections to finish")
    .option("--dns <ip:port>", "run the DNS proxy here, UDP and TCP (mesh names from the NameTable; docs/dns.md)")
    .option("--dns-upstream <ip[:port],...>", "resolvers for other names (default: /etc/resolv.conf's nameservers)")
    .option("--dns-timeout <ms>", "how long a forwarded query may take before SERVFAIL (default 5000)")
    .addHelpText(
      "after",
      example(
        "trellis proxy --bootstrap examples/bootstrap.yaml",
        "trellis proxy --xds 127.0.0.1:15010 --node-id reviews-v1 --service reviews --labels version=v1 --admin-port 0",
      ),
    )
    .action((opts: ProxyOptions) => run(import("./proxy.ts").then((m) => m.runProxy(opts))));

  prog
    .command("run")
    .description("run a command with a sidecar beside it, in the mesh while it lives; exits with its status")
    .argument("<command...>", "the command and its arguments, after --")
    .option("--service <name>", "the service the process belongs to (its app label)")
    .option("--version <v>", "its version label (subsets select on it)")
    .option("-n, --namespace <ns>", "its namespace (default: default)")
    .option("--labels <k=v,...>", "more labels")
    .option(
      "--port <[name=]port[:app-port][/proto]>",
      "a service port; the application listens on app-port, else on the free port given in $PORT; proto http " +
        "(default), http2, grpc, tcp, tls, https, or auto (detected per connection, as for a name naming no " +
        "protocol) (repeatable)",
      collect,
    )
    .option(
      "--outbound <host:port>",
      "a TCP destination in the mesh (redis.default:6379) given a local port, in $TRELLIS_OUTBOUND_<HOST>_<PORT> (repeatable)",
      collect,
    )
    .option("--service-account <sa>", "the instance's service account (default: default)")
    .option("--no-wait", "start the command at once, before the sidecar is configured (it may see 503s at first)")
    .option(
      "--xds <host:port,...>",
      "the control plane's ADS (default $TRELLIS_XDS, else $TRELLIS_CONTROL's host:15010)",
    )
    .option("--drain-timeout <ms>", "how long the sidecar drains after the command exits (default 5000)")
    .option(
      "--transparent",
      "run the command and its sidecar in their own network namespace, its traffic captured by iptables (root, Linux)",
    )
    .addHelpText(
      "after",
      example(
        "trellis run --service meeting --version v1 --port 8080 -- node server.js",
        "trellis run --service batch -- curl -s http://meeting:8080/   # a pure client",
        "sudo trellis run --transparent --service meeting --port 8080 -- node server.js",
      ),
    )
    .action((command: string[], opts: RunCliOptions) => run(import("./run.ts").then((m) => m.runRun(command, opts))));

  prog
    .command("gateway")
    .description("an ingress or egress gateway: an edge proxy for the Gateways whose selector matches its labels")
    .option("--name <name>", "the gateway's name: its app label and the service it registers as")
    .option("-n, --namespace <ns>", "its namespace (default: default); credentialName secrets are read there")
    .option("--labels <k=v,...>", "its labels, which Gateway selectors match (default istio=ingressgateway; app=NAME)")
    .option(
      "--port <[name=]port[:listen]>",
      "a Gateway server port and where it listens on 127.0.0.1 (default the port itself); registered (repeatable)",
      collect,
    )
    .option(
      "--xds <host:port,...>",
      "the control plane's ADS (default $TRELLIS_XDS, else $TRELLIS_CONTROL's host:15010)",
    )
    .option("--admin-port <port>", "admin interface port on 127.0.0.1 (default 0: a free port, logged)")
    .option("--drain-timeout <ms>", "how long SIGTERM waits for connections to finish")
    .addHelpText(
      "after",
      example(
        "trellis gateway --name ingress --port http=80:8080 --port https=443:8443",
        "trellis gateway --name egress --labels istio=egressgateway --port http=80:18080",
      ),
    )
    .action((opts: GatewayOptions) => run(import("./gateway.ts").then((m) => m.runGateway(opts))));

  prog
    .command("up")
    .description("the control plane: ADS for sidecars on 15010, the HTTP API on 15014")
    .option("--store <store>", "embedded (default, persisted under --data-dir) or etcd://HOST:PORT,…")
    .option("--data-dir <dir>", "where the embedded store keeps its data (default ~/.trellis/data)")
    .option("--address <address>", "address to listen on (default 127.0.0.1)")
    .option("--xds-port <port>", "ADS port (default 15010)")
    .option("--api-port <port>", "HTTP API port (default 15014)")
    .option("--mesh-config <file>", "Istio's MeshConfig (YAML), reloaded when the file changes")
    .option(
      "--address-range <cidr>",
      "where trellis run --transparent namespaces get their addresses (default 10.250.0.0/16; the first is the gateway)",
    )
    .addHelpText(
      "after",
      example(
        "trellis up --data-dir /tmp/trellis-data",
        "trellis up --store etcd://10.0.0.1:2379,10.0.0.2:2379",
        "trellis up --mesh-config mesh.yaml",
      ),
    )
    .action((opts: UpOptions) => run(import("./up.ts").then((m) => m.runUp(opts))));

  prog
    .command("apply")
    .description("validate and store Istio resources on the control plane: all of them, or none")
    .option(
      "-f, --filename <file|dir|->",
      "a YAML/JSON file, a directory of them, or - for stdin (repeatable)",
      collect,
    )
    .option("--dry-run", "validate and show what would change; store nothing")
    .addHelpText(
      "after",
      example(
        "trellis apply -f reviews-split.yaml",
        "trellis apply -f config/ --dry-run",
        "cat vs.yaml | trellis apply -f -",
      ),
    )
    .action((opts: ApplyOptions) => run(import("./apply.ts").then((m) => m.runApply(opts))));

  prog
    .command("analyze")
    .description("Istio's analyzers: cross-resource problems (undefined subsets, unknown hosts, conflicts), explained")
    .option("-f, --filename <file|dir|->", "files to analyze, with the running mesh's resources (repeatable)", collect)
    .option("--offline", "analyze the files alone, without a control plane")
    .addHelpText("after", example("trellis analyze", "trellis analyze -f reviews-split.yaml --offline"))
    .action((opts: AnalyzeOptions) => run(import("./analyze.ts").then((m) => m.runAnalyze(opts))));

  prog
    .command("get")
    .description("list or show stored resources, or the workloads registered in the mesh")
    .argument("<kind>", "a kind as kubectl users type it (virtualservice, vs, dr, …), workloads, or meshconfig")
    .argument("[name]", "one resource's name")
    .option("-n, --namespace <ns>", "the namespace (default: default)")
    .option("-A, --all-namespaces", "every namespace")
    .addOption(new Option("-o, --output <format>", "yaml or json instead of a table").choices(["yaml", "json"]))
    .addHelpText(
      "after",
      example(
        "trellis get virtualservices",
        "trellis get dr reviews -n bookinfo -o yaml",
        "trellis get workloads -A          # registered instances: address, ports, health, lease",
        "trellis get workload reviews -o json",
        "trellis get meshconfig            # the MeshConfig in force, and what of it is not enforced yet",
      ),
    )
    .action((kind: string, name: string | undefined, opts: GetOptions) =>
      run(import("./get.ts").then((m) => m.runGet(kind, name, opts))),
    );

  prog
    .command("delete")
    .description("remove stored resources: one by kind and name, or every resource named in files (like kubectl)")
    .argument("[kind]", "the resource's kind (vs, dr, se, …)")
    .argument("[name]", "the resource's name")
    .option("-f, --filename <file|dir|->", "delete every resource these files name (repeatable)", collect)
    .option("-n, --namespace <ns>", "the namespace (default: default, or each document's metadata.namespace)")
    .option("--ignore-not-found", "with -f: pass over resources that are not stored, silently")
    .addHelpText(
      "after",
      example(
        "trellis delete virtualservice reviews",
        "trellis delete dr reviews -n bookinfo",
        "trellis delete -f reviews-split.yaml --ignore-not-found",
      ),
    )
    .action((kind: string | undefined, name: string | undefined, opts: DeleteOptions) =>
      run(import("./delete.ts").then((m) => m.runDelete(kind, name, opts))),
    );

  prog
    .command("create")
    .description("create a secret: `trellis create secret tls NAME --cert FILE --key FILE`")
    .command("secret")
    .description("create a secret (tls: a gateway's certificate and key)")
    .command("tls")
    .description(
      "store a certificate chain and its key for a gateway's credentialName (checked; the key is never shown)",
    )
    .argument("<name>", "the secret's name (what a Gateway server's tls.credentialName says)")
    .option("-n, --namespace <ns>", "its namespace: the gateway's (default: default)")
    .option("--cert <file>", "the certificate chain, PEM (leaf first)")
    .option("--key <file>", "the private key, PEM")
    .option("--ca <file>", "CA certificates, PEM, that a MUTUAL server checks client certificates against (ca.crt)")
    .addHelpText("after", example("trellis create secret tls web-cert --cert web.crt --key web.key"))
    .action((name: string, opts: CreateSecretOptions) =>
      run(import("./secret.ts").then((m) => m.runCreateSecretTls(name, opts))),
    );

  prog
    .command("proxy-status")
    .description("each connected proxy: versions sent and ACKed, NACK errors in full, problems; one proxy's problems")
    .argument("[proxy]", "one proxy's node id: its row and each of its problems")
    .addOption(
      new Option("-o, --output <format>", "json or yaml: the full status, with every problem").choices([
        "json",
        "yaml",
      ]),
    )
    .addHelpText(
      "after",
      example("trellis proxy-status", "trellis proxy-status reviews-v1", "trellis proxy-status reviews-v1 -o yaml"),
    )
    .action((proxy: string | undefined, opts: ProxyStatusOptions) =>
      run(import("./proxy-status.ts").then((m) => m.runProxyStatus(proxy, opts))),
    );

  prog
    .command("ps")
    .description("what runs in the mesh: service, version, address, ports, health, sidecar sync state, uptime")
    .argument("[service]", "one service's workloads (or one instance's id)")
    .option("-n, --namespace <ns>", "the namespace (default: default)")
    .option("-A, --all-namespaces", "every namespace")
    .addOption(new Option("-o, --output <format>", "json or yaml instead of a table").choices(["json", "yaml"]))
    .addHelpText("after", example("trellis ps", "trellis ps -A", "trellis ps meeting -o json"))
    .action((service: string | undefined, opts: PsOptions) =>
      run(import("./ps.ts").then((m) => m.runPs(service, opts))),
    );

  prog
    .command("proxy-config")
    .description("what the control plane sends a proxy, as Envoy JSON or a summary table")
    .addArgument(
      new Argument("<type>", "which configuration (nametable: a capture-mode sidecar's DNS names and VIPs)").choices([
        "listeners",
        "routes",
        "clusters",
        "endpoints",
        "secrets",
        "nametable",
      ]),
    )
    .argument("<proxy>", "the proxy's node id (see trellis proxy-status)")
    .addOption(new Option("-o, --output <format>", "json or yaml instead of a table").choices(["json", "yaml"]))
    .addHelpText(
      "after",
      example("trellis proxy-config clusters reviews-v1", "trellis proxy-config routes reviews-v1 -o yaml"),
    )
    .action((type: string, proxy: string, opts: ProxyConfigOptions) =>
      run(import("./proxy-config.ts").then((m) => m.runProxyConfig(type, proxy, opts))),
    );

  prog
    .command("cleanup")
    .description(
      "remove what trellis run --transparent runs that were killed left behind: namespaces, links, rules, files, registrations",
    )
    .addHelpText("after", example("sudo trellis cleanup"))
    .action(() => run(import("./cleanup.ts").then((m) => m.runCleanup())));

  prog
    .command("demo")
    .description("an upstream and two sidecars on this machine, and the curl to try; Ctrl-C stops everything")
    .addHelpText("after", example("trellis demo", "npm run demo"))
    .action(() => run(import("./demo.ts").then((m) => m.runDemo())));

  prog
    .command("version")
    .description("print the version of trellis and of node")
    .addHelpText("after", example("trellis version"))
    .action(() => {
      process.stdout.write(`${versionLine()}\n`);
      setStatus(0);
    });

  // Usage errors are one line, named after the verb, with where to look next.
  for (const cmd of [prog, ...prog.commands]) {
    const who = cmd === prog ? "trellis" : `trellis ${cmd.name()}`;
    cmd.configureOutput({
      outputError: (message, write) =>
        write(
          `${who}: ${message
            .trim()
            .replace(/^error: /, "")
            .replace(/\s*\n\s*/g, " ")} (see \`${who} --help\`)\n`,
        ),
    });
  }
  return prog;
}

export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const prog = program((s) => {
    status = s;
  });
  if (argv.length === 0) {
    prog.outputHelp({ error: true });
    return 2;
  }
  try {
    await prog.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help, -h, `help VERB` and --version answer 0; every usage error is 2.
      return ["commander.helpDisplayed", "commander.version"].includes(err.code) ||
        (err.code === "commander.help" && err.exitCode === 0)
        ? 0
        : 2;
    }
    throw err;
  }
  return status;
}
