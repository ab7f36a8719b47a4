// Run inside a test's network namespace under the proxy's own gid (Netns.spawnNode with setpriv): the smallest
// transparent proxy. A capture listener on 127.0.0.1, port 0, takes each redirected connection, reads its original
// destination and connects there itself (its own traffic is excluded from the redirect by gid, as Istio's rules
// exclude the sidecar's), then relays bytes both ways. With `--server ADDRESS` it also runs the "real" destination:
// a server on ADDRESS, port 0, that answers one line naming the addresses it saw.
//   stdout, first line: {"capture":PORT,"server":PORT,"gid":GID}
//   stdout, per capture: {"original":{address,port}|null}
import net from "node:net";
import { originalDestination } from "../../src/proxy/listener/original-destination.ts";

const serverAddress = process.argv[process.argv.indexOf("--server") + 1] ?? "127.0.0.1";

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

const capture = net.createServer((downstream) => {
  downstream.on("error", () => downstream.destroy());
  const original = originalDestination(downstream);
  process.stdout.write(`${JSON.stringify({ original: original ?? null })}\n`);
  if (original === undefined) return void downstream.destroy();
  const upstream = net.connect(original.port, original.address);
  upstream.on("error", () => downstream.destroy());
  downstream.on("close", () => upstream.destroy());
  downstream.pipe(upstream).pipe(downstream);
});

const server = net.createServer((socket) => {
  socket.on("error", () => socket.destroy());
  socket.end(`server ${socket.localAddress}:${socket.localPort} saw ${socket.remoteAddress}\n`);
});

const [capturePort, serverPort] = await Promise.all([listen(capture, "127.0.0.1"), listen(server, serverAddress)]);
process.stdout.write(`${JSON.stringify({ capture: capturePort, server: serverPort, gid: process.getgid?.() })}\n`);
