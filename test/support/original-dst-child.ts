// Run inside a test's network namespace (Netns.spawnNode): listeners on 127.0.0.1, ::1 and :: (dual-stack), port 0, that answers
// each connection with what `originalDestination` says about it, and a client driven by lines on stdin.
//   stdout, first line:  {"listening":{"v4":PORT,"v6":PORT,"dual":PORT}}
//   stdin:               connect ADDRESS PORT
//   stdout, per line:    {"dialled":"ADDRESS:PORT","original":{…}|null,"local":"…","stats":{found,notFound,unavailable}}
// or {"dialled":…,"error":"…"} when the connection fails. The parent waits on these lines: no timers here.
import net from "node:net";
import readline from "node:readline";
import { originalDestination, OriginalDestinationStats } from "../../src/proxy/listener/original-destination.ts";
import { StatsStore } from "../../src/telemetry/stats.ts";

const stats = new OriginalDestinationStats(new StatsStore());

function answer(socket: net.Socket): void {
  socket.on("error", () => socket.destroy());
  const original = originalDestination(socket, stats) ?? null;
  socket.end(
    JSON.stringify({
      original,
      local: `${socket.localAddress}:${socket.localPort}`,
      stats: { found: stats.found.value, notFound: stats.notFound.value, unavailable: stats.unavailable.value },
    }),
  );
}

function listen(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(answer);
    server.once("error", reject);
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

// "::" is dual-stack: an IPv4 connection arrives on an IPv6 socket, from and to ::ffff:a.b.c.d.
const [v4, v6, dual] = await Promise.all([listen("127.0.0.1"), listen("::1"), listen("::")]);
process.stdout.write(`${JSON.stringify({ listening: { v4, v6, dual } })}\n`);

for await (const line of readline.createInterface({ input: process.stdin })) {
  const [verb, address, port] = line.trim().split(/\s+/);
  if (verb !== "connect" || address === undefined || port === undefined) continue;
  const dialled = net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
  const reply = await new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    const client = net.connect(Number(port), address);
    client.on("data", (chunk: Buffer) => chunks.push(chunk));
    client.on("end", () => resolve(JSON.stringify({ dialled, ...JSON.parse(Buffer.concat(chunks).toString()) })));
    client.on("error", (err) => resolve(JSON.stringify({ dialled, error: err.message })));
  });
  process.stdout.write(`${reply}\n`);
}
// stdin closed: the parent is done with us (the listeners would keep the process alive).
process.exit(0);
