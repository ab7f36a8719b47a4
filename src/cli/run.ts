// `trellis run --service NAME [--version V] [--namespace NS] [--labels k=v,…] [--port [NAME=]P[:APP_PORT][/PROTO]]…
// [--outbound HOST:PORT]… [--service-account SA] [--no-wait] [--transparent] -- CMD…`: CMD with a sidecar beside it, in the mesh while it lives (src/run/lifecycle.ts; docs/run.md). The exit
// status is CMD's; 2 for a usage error (and for --transparent without root, Linux, ip, iptables or setpriv), 1 when
// the sidecar or the registration failed before CMD started. --transparent: src/run/transparent.ts.

import { DEFAULT_DRAIN_TIMEOUT_MS } from "../api/bootstrap.ts";
import { TrellisError } from "../api/errors.ts";
import { controlUrl } from "./control-client.ts";

/** The options main.ts's commander parses for this verb. */
export interface RunCliOptions {
  service?: string;
  version?: string;
  namespace?: string;
  labels?: string;
  port?: string[];
  outbound?: string[];
  serviceAccount?: string;
  /** false with --no-wait. */
  wait?: boolean;
  xds?: string;
  drainTimeout?: string;
  /** --transparent: CMD and its sidecar in their own network namespace, traffic captured (root, Linux). */
  transparent?: boolean;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DEFAULT_XDS_PORT = 15010;

/** The ADS address: --xds, else $TRELLIS_XDS, else the host of $TRELLIS_CONTROL on port 15010. */
export function xdsServers(flag: string | undefined, control: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const value = flag ?? env.TRELLIS_XDS;
  if (value !== undefined) return value.split(",").map((s) => s.trim());
  return [`${new URL(control).hostname}:${DEFAULT_XDS_PORT}`];
}

export async function runRun(command: readonly string[], values: RunCliOptions): Promise<number> {
  const log = (line: string): void => void process.stderr.write(`trellis run: ${line}\n`);
  if (values.transparent === true) {
    // Before anything else: without root, Linux and the tools nothing can be created, and nothing is.
    const { transparentPrerequisites, TransparentUnavailableError } = await import("../run/netns.ts");
    const missing = transparentPrerequisites();
    if (missing.length > 0) {
      process.stderr.write(`trellis run: ${new TransparentUnavailableError(missing).message}\n`);
      return 2;
    }
  }
  const { parseLabels, parseOutbounds, parsePorts, RunUsageError } = await import("../run/ports.ts");
  let options;
  try {
    if (values.service === undefined || !DNS_LABEL.test(values.service))
      throw new RunUsageError(
        values.service === undefined
          ? "--service NAME is required"
          : `--service expects a DNS label (lower-case letters, digits, '-'), got "${values.service}"`,
      );
    const namespace = values.namespace ?? "default";
    if (!DNS_LABEL.test(namespace)) throw new RunUsageError(`--namespace expects a DNS label, got "${namespace}"`);
    if (values.serviceAccount !== undefined && !DNS_LABEL.test(values.serviceAccount))
      throw new RunUsageError(`--service-account expects a DNS label, got "${values.serviceAccount}"`);
    if (values.transparent === true && (values.outbound ?? []).length > 0)
      throw new RunUsageError(
        "--outbound is for explicit mode: with --transparent, CMD dials the service by its name and port, captured",
      );
    if (command.length === 0) throw new RunUsageError("no command to run: trellis run --service NAME … -- CMD [ARGS…]");
    const drainTimeoutMs = values.drainTimeout === undefined ? DEFAULT_DRAIN_TIMEOUT_MS : Number(values.drainTimeout);
    if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0)
      throw new RunUsageError(`--drain-timeout expects milliseconds ≥ 0, got "${values.drainTimeout}"`);
    const control = controlUrl();
    const xds = xdsServers(values.xds, control);
    for (const s of xds)
      if (!/^[^\s:]+:\d{1,5}$/.test(s) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(s))
        throw new RunUsageError(`--xds expects HOST:PORT[,HOST:PORT…], got "${s}"`);
    options = {
      service: values.service,
      namespace,
      version: values.version,
      labels: parseLabels(values.labels),
      ports: parsePorts(values.port ?? []),
      outbounds: parseOutbounds(values.outbound ?? []),
      serviceAccount: values.serviceAccount ?? "default",
      noWait: values.wait === false,
      command,
      control,
      xds,
      drainTimeoutMs,
      log,
    };
  } catch (err) {
    if (!(err instanceof RunUsageError)) throw err;
    process.stderr.write(`trellis run: ${err.message}\n`);
    return 2;
  }
  const { runWithSidecar } = await import("../run/lifecycle.ts");
  try {
    if (values.transparent === true) {
      const { runTransparent } = await import("../run/transparent.ts");
      return await runTransparent(options);
    }
    return await runWithSidecar(options);
  } catch (err) {
    if (!(err instanceof TrellisError)) throw err;
    process.stderr.write(`trellis run: ${err.message}\n`);
    return 1;
  }
}
