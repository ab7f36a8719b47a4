// Before `trellis run` registers anything or starts its sidecar: each application port fixed with `--port
// P:APP_PORT` must be free on 127.0.0.1, where CMD will listen. A port another process holds would otherwise be
// registered as this instance's and probed healthy (the other process answers), and CMD would fail to bind it.
// Checked by binding it for a moment, as freeLocalPorts chooses free ports.

import net from "node:net";
import { TrellisError } from "../api/errors.ts";
import type { RunPort } from "./ports.ts";

export class AppPortTakenError extends TrellisError {
  constructor(spec: string, port: number, reason: string) {
    super(
      "TRELLIS_RUN_APP_PORT_TAKEN",
      `--port "${spec}": application port ${port} is already in use on 127.0.0.1 (${reason}): ` +
        `stop what listens there, choose another APP_PORT, or leave :APP_PORT out for a free port in $PORT`,
    );
  }
}

/** Throws AppPortTakenError for the first fixed application port that cannot be bound on 127.0.0.1. */
export async function assertAppPortsFree(ports: readonly RunPort[]): Promise<void> {
  for (const p of ports) {
    if (p.appPort === undefined) continue;
    const reason = await bindError(p.appPort);
    if (reason !== undefined) throw new AppPortTakenError(p.spec ?? `${p.servicePort}:${p.appPort}`, p.appPort, reason);
  }
}

function bindError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
