// A real `trellis gateway` process (bin/trellis.js) for the gateway end-to-end tests: fed by the control plane's
// xDS port, its API at `control` (TRELLIS_CONTROL), its stderr handed to `onLog` as it comes.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const TRELLIS = fileURLToPath(new URL("../../bin/trellis.js", import.meta.url));

/** Spawns `trellis gateway ARGS --xds 127.0.0.1:XDSPORT`; `args` name it and its ports ("--name", "ingress", …). */
export function spawnGateway(
  args: string[],
  xdsPort: number,
  control: string,
  onLog: (text: string) => void,
): ChildProcess {
  const gateway = spawn(process.execPath, [TRELLIS, "gateway", ...args, "--xds", `127.0.0.1:${xdsPort}`], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, TRELLIS_CONTROL: control },
  });
  gateway.stderr!.on("data", (c: Buffer) => onLog(c.toString()));
  return gateway;
}
