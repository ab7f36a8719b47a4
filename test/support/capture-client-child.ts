// Run inside a capture test's network namespace as root (not the sidecar's gid, so its connections are captured):
// the application. One JSON command per stdin line, one JSON answer per command (bytes as latin1 strings):
//   {"op":"send","host":H,"port":P,"data":D}        connect, write D, half-close → {"reply":R} (all the peer sent)
//   {"op":"open","id":I,"host":H,"port":P,"data":D} connect and write D, keep it open → {"opened":I}
//   {"op":"finish","id":I,"data":D}                 write D on I, half-close → {"reply":R}
import net from "node:net";
import readline from "node:readline";

interface Held {
  socket: net.Socket;
  chunks: Buffer[];
  closed: Promise<void>;
}

const held = new Map<string, Held>();
const say = (value: unknown): boolean => process.stdout.write(`${JSON.stringify(value)}\n`);

function connect(host: string, port: number): Promise<Held> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => {});
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    const entry = { socket, chunks, closed };
    socket.once("connect", () => resolve(entry));
    // Refused or reset before connecting: answered with what arrived (nothing).
    void closed.then(() => resolve(entry));
  });
}

const reply = async (h: Held, data: string): Promise<void> => {
  if (!h.socket.destroyed) h.socket.end(Buffer.from(data, "latin1"));
  await h.closed;
  say({ reply: Buffer.concat(h.chunks).toString("latin1") });
};

for await (const line of readline.createInterface({ input: process.stdin })) {
  const c = JSON.parse(line) as { op: string; id?: string; host?: string; port?: number; data?: string };
  if (c.op === "send") await reply(await connect(c.host!, c.port!), c.data ?? "");
  else if (c.op === "open") {
    const h = await connect(c.host!, c.port!);
    h.socket.write(Buffer.from(c.data ?? "", "latin1"));
    held.set(c.id!, h);
    say({ opened: c.id });
  } else if (c.op === "finish") {
    const h = held.get(c.id!)!;
    held.delete(c.id!);
    await reply(h, c.data ?? "");
  }
}
process.exit(0);
