// HTTP/2 conformance, RFC 9113 §3 (starting HTTP/2: the connection preface), §4 (frame format and size) and §5
// (streams: states, identifiers, concurrency), against a real sidecar listener. Every test asserts what the proxy
// answered and, through the helpers, that the sidecar keeps serving other clients.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  E,
  F,
  H2Client,
  PREFACE,
  S,
  T,
  data,
  frame,
  headers,
  ping,
  priority,
  requestFields,
  rstStream,
  settings,
  windowUpdate,
} from "../support/h2-wire.ts";
import { H2_CODECS, h2Conformance, startH2Sidecar } from "../support/h2-sidecar.ts";
import { ManualClock } from "../../src/api/clock.ts";
import { PROBE_TIMEOUT_MS } from "../../src/proxy/http2/downstream-session.ts";
import { waitFor } from "../support/wait.ts";

const get = (id: number, path = "/ok") => headers(id, requestFields(path), { endStream: true });
const post = (id: number, path = "/ok") => headers(id, requestFields(path, [], "POST"));

/** Writes `bytes` on a raw connection and collects what comes back until the proxy closes it. */
function raw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    const got: Buffer[] = [];
    s.on("data", (c: Buffer) => got.push(c));
    s.on("error", () => {});
    s.on("close", () => resolve(Buffer.concat(got)));
  });
}

h2Conformance("RFC 9113 §3.4 the connection preface", (t) => {
  test("a preface that is not HTTP/2's: AUTO reads it as HTTP/1.1 (505 DPE), HTTP2 ends the connection", async () => {
    const bad = Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", "latin1");
    const answer = await raw(t.sidecar.port, Buffer.concat([bad, settings()]));
    if (t.codec === "AUTO") {
      // Not the HTTP/2 preface, so HTTP/1.1, whose parser refuses the version.
      assert.match(answer.toString("latin1"), /^HTTP\/1\.1 505 /);
      assert.match(answer.toString("latin1"), /x-trellis-response-flags: DPE/);
    } else {
      // nghttp2 finds a bad client magic before any frame: the connection is closed, with a GOAWAY at most.
      const text = answer.toString("latin1");
      assert.ok(!text.startsWith("HTTP/1.1"), text);
    }
    await t.sidecar.stillServes();
  });

  test("the first frame after the preface is not SETTINGS: GOAWAY(PROTOCOL_ERROR)", async () => {
    const c = await H2Client.connect(t.sidecar.port);
    try {
      c.write(PREFACE, ping());
      assert.equal((await c.goaway()).code, E.PROTOCOL_ERROR, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });

  test("the proxy's first frame is SETTINGS, and it ACKs the client's", async () => {
    const c = await t.open();
    try {
      await c.roundTrip();
      assert.equal(c.frames[0]!.type, T.SETTINGS);
      assert.equal(c.frames[0]!.flags & F.ACK, 0);
      assert.ok(c.frames.some((f) => f.type === T.SETTINGS && f.flags & F.ACK));
    } finally {
      c.close();
    }
  });

  test("a client that connects and sends nothing is left alone, the others are served", async () => {
    const idle = await H2Client.connect(t.sidecar.port);
    idle.autoAck = false; // it says nothing at all, not even an ACK of the proxy's SETTINGS
    try {
      await t.sidecar.stillServes();
      assert.equal(idle.closed, false);
    } finally {
      idle.close();
    }
  });
});

h2Conformance("RFC 9113 §4 frames", (t) => {
  test("a DATA frame larger than SETTINGS_MAX_FRAME_SIZE (16384): FRAME_SIZE_ERROR (§4.2)", () =>
    t.goaway(E.FRAME_SIZE_ERROR, post(1), data(1, Buffer.alloc(16385))));

  test("a HEADERS frame larger than SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR (§4.2)", () =>
    t.goaway(E.FRAME_SIZE_ERROR, headers(1, [...requestFields("/ok"), ["x-big", "v".repeat(17000)]])));

  test("a frame of an unknown type is ignored (§4.1, §5.5)", () =>
    t.accepted(frame(0x42, 0xff, 0, Buffer.from("ignore me")), frame(0x43, 0, 1, Buffer.alloc(3))));

  test("unknown flags are ignored (§4.1)", async () => {
    await t.answers(
      1,
      200,
      frame(T.HEADERS, F.END_STREAM | F.END_HEADERS | 0x40 | 0x10, 1, headers(1, requestFields("/ok")).subarray(9)),
    );
  });

  test("the reserved bit of the stream identifier is ignored (§4.1)", async () => {
    const h = get(1);
    h.writeUInt32BE(0x80000001, 5);
    await t.answers(1, 200, h);
  });

  test("a SETTINGS_MAX_FRAME_SIZE of 16383 (below the minimum): PROTOCOL_ERROR (§6.5.2)", () =>
    t.goaway(E.PROTOCOL_ERROR, settings([[S.MAX_FRAME_SIZE, 16383]])));

  test("a SETTINGS_MAX_FRAME_SIZE of 2^24 (above the maximum): PROTOCOL_ERROR (§6.5.2)", () =>
    t.goaway(E.PROTOCOL_ERROR, settings([[S.MAX_FRAME_SIZE, 1 << 24]])));
});

h2Conformance("RFC 9113 §5 streams", (t) => {
  test("DATA on an idle stream: PROTOCOL_ERROR (§5.1)", () => t.goaway(E.PROTOCOL_ERROR, data(1, "x", true)));

  test("RST_STREAM on an idle stream: PROTOCOL_ERROR (§6.4)", () => t.goaway(E.PROTOCOL_ERROR, rstStream(1, E.CANCEL)));

  test("WINDOW_UPDATE on an idle stream: PROTOCOL_ERROR (§5.1)", () =>
    t.goaway(E.PROTOCOL_ERROR, windowUpdate(1, 100)));

  test("PRIORITY on an idle stream is allowed (§5.1)", () => t.accepted(priority(5, 0, 16)));

  test("a stream opened with an even identifier: PROTOCOL_ERROR (§5.1.1)", () => t.goaway(E.PROTOCOL_ERROR, get(2)));

  test("a stream identifier lower than one already used: ignored by nghttp2 (§5.1.1 asks PROTOCOL_ERROR)", async () => {
    // nghttp2 cannot tell an idle stream below the highest one seen from a closed one, so it ignores the HEADERS
    // (its session.c says as much). Documented: the stream is never answered nor forwarded, the connection goes on.
    const seen = t.sidecar.upstream.received.length;
    const c = await t.open(get(5, "/five"), get(3, "/three"));
    try {
      assert.equal((await c.stream(5)).status, 200);
      await c.roundTrip();
      assert.deepEqual(
        c.frames.filter((f) => f.streamId === 3),
        [],
      );
      assert.deepEqual(
        t.sidecar.upstream.received.slice(seen).map((r) => r.url),
        ["/five"],
      );
    } finally {
      c.close();
    }
  });

  test("HEADERS on a half-closed (remote) stream: STREAM_CLOSED (§5.1)", async () => {
    // Stream 1 goes to an upstream that takes its time? No: answered at once. Use a request whose body the client
    // ended, then another HEADERS on it (not trailers: it has already ended).
    const c = await t.open(post(1, "/slow"), data(1, "x", true), get(1));
    try {
      const outcome = await c.stream(1);
      const g = c.frames.find((f) => f.type === T.GOAWAY);
      // nghttp2 answers STREAM_CLOSED, as a stream error or (when the stream has closed meanwhile) as a connection
      // error; either way with the code §5.1 asks for.
      const code = outcome.rst ?? (g ? g.payload.readUInt32BE(4) : undefined);
      assert.equal(code, E.STREAM_CLOSED, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });

  test("DATA on a stream the client closed with END_STREAM: STREAM_CLOSED (§5.1)", async () => {
    const c = await t.open(get(1), data(1, "late"));
    try {
      await c.frame((f) => (f.type === T.RST_STREAM && f.streamId === 1) || f.type === T.GOAWAY);
      const f = c.frames.find((f) => (f.type === T.RST_STREAM && f.streamId === 1) || f.type === T.GOAWAY)!;
      assert.equal(f.payload.readUInt32BE(f.type === T.GOAWAY ? 4 : 0), E.STREAM_CLOSED, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });

  test("DATA on a stream the client reset: ignored or STREAM_CLOSED, never an answer (§5.1)", async () => {
    const c = await t.open(post(1), rstStream(1, E.CANCEL), data(1, "after reset"));
    try {
      await c.roundTrip().catch(() => {});
      assert.equal(
        c.frames.some((f) => f.streamId === 1 && f.type === T.HEADERS),
        false,
        c.describe(),
      );
      const g = c.frames.find((f) => f.type === T.GOAWAY);
      if (g) assert.equal(g.payload.readUInt32BE(4), E.STREAM_CLOSED);
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });

  test("streams beyond SETTINGS_MAX_CONCURRENT_STREAMS: refused (§5.1.2)", async () => {
    const c = await t.open();
    try {
      await c.frame((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0);
      const max = c.peerSetting(S.MAX_CONCURRENT_STREAMS)!;
      assert.ok(max > 0 && max <= 1024, `announced ${max}`);
      const opens: Buffer[] = [];
      for (let i = 0; i <= max; i++) opens.push(post(1 + 2 * i, "/held")); // bodies never end: all stay open
      c.write(...opens);
      const last = 1 + 2 * max;
      const outcome = await c.stream(last);
      const g = c.frames.find((f) => f.type === T.GOAWAY);
      const code = outcome.rst ?? (g ? g.payload.readUInt32BE(4) : undefined);
      assert.ok(code === E.REFUSED_STREAM || code === E.PROTOCOL_ERROR, c.describe().slice(-400));
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });
});

describe("RFC 9113 §5.4.1 after a connection error", () => {
  for (const codec of H2_CODECS) {
    test(`the connection node stops reading after its GOAWAY is closed by the connection idle timeout (codec ${codec})`, async () => {
      const clock = new ManualClock();
      const sidecar = await startH2Sidecar(codec, { clock });
      try {
        // DATA on an idle stream: nghttp2 sends GOAWAY(PROTOCOL_ERROR) and stops reading, and node is not told, so
        // the socket would stay open; the session's idle timer (no stream open) closes it.
        const c = await H2Client.open(sidecar.port, data(1, "x", true));
        assert.equal((await c.goaway()).code, E.PROTOCOL_ERROR);
        assert.equal(c.closed, false);
        clock.advance(3_600_000);
        await c.whenClosed();
        await sidecar.stillServes();
      } finally {
        await sidecar.close();
      }
    });

    test(`one with a stream still open is ended when that stream times out and a PING probe gets no answer (codec ${codec})`, async () => {
      const clock = new ManualClock();
      const sidecar = await startH2Sidecar(codec, { clock });
      try {
        // Stream 1 is open (its body never ends, the upstream waits for it); then a frame too large for the
        // connection: GOAWAY(FRAME_SIZE_ERROR), nghttp2 stops, node is not told and stream 1 stays open.
        const c = await H2Client.open(sidecar.port, Buffer.concat([post(1, "/open"), data(1, Buffer.alloc(16385))]));
        assert.equal((await c.goaway()).code, E.FRAME_SIZE_ERROR);
        const active = sidecar.proxy.proxy.stats.gauge("envoy_http_downstream_rq_active", "", {
          envoy_http_conn_manager_prefix: "h2",
        });
        await waitFor(() => active.value === 1);
        // The route's timeout (15 s) answers 504, which node queues and never writes; the stream stays open until
        // its stream_idle_timeout (5 min after that answer), which resets it (queued too) and probes the session
        // with a PING, never sent either: when the probe times out, the session is ended.
        clock.advance(15_000 + 5 * 60_000);
        await waitFor(() => active.value === 1);
        assert.equal(c.closed, false);
        clock.advance(PROBE_TIMEOUT_MS);
        await c.whenClosed();
        await waitFor(() => active.value === 0);
        await sidecar.stillServes();
      } finally {
        await sidecar.close();
      }
    });

    test(`a live session whose stream timed out answers the probe and stays open (codec ${codec})`, async () => {
      const clock = new ManualClock();
      const sidecar = await startH2Sidecar(codec, { clock });
      try {
        // A request body that never ends: answered by the proxy at the route timeout, the stream idle timeout fires
        // 5 min later.
        const c = await H2Client.open(sidecar.port, post(1, "/unfinished"));
        const active = sidecar.proxy.proxy.stats.gauge("envoy_http_downstream_rq_active", "", {
          envoy_http_conn_manager_prefix: "h2",
        });
        await waitFor(() => active.value === 1);
        clock.advance(15_000);
        await c.frame((f) => f.type === T.HEADERS && f.streamId === 1); // the proxy's own answer
        clock.advance(5 * 60_000);
        await c.frame((f) => f.type === T.PING && (f.flags & F.ACK) === 0); // the probe, answered by the client
        await c.roundTrip();
        clock.advance(PROBE_TIMEOUT_MS);
        await c.roundTrip();
        assert.equal(c.closed, false);
        c.close();
      } finally {
        await sidecar.close();
      }
    });
  }
});
