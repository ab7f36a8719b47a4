// HTTP/2 conformance, RFC 9113 §6 (frame definitions): DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY,
// WINDOW_UPDATE and CONTINUATION, each malformed the ways h2spec tries, against a real sidecar listener. Every test
// asserts the proxy's answer (GOAWAY or RST_STREAM code, or a response) and that the sidecar keeps serving.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  E,
  F,
  S,
  T,
  continuation,
  data,
  frame,
  goaway,
  headers,
  hpack,
  ping,
  priority,
  requestFields,
  rstStream,
  settings,
  windowUpdate,
} from "../support/h2-wire.ts";
import { h2Conformance } from "../support/h2-sidecar.ts";

const get = (id: number, path = "/ok") => headers(id, requestFields(path), { endStream: true });
const post = (id: number, path = "/ok") => headers(id, requestFields(path, [], "POST"));

h2Conformance("RFC 9113 §6.1 DATA", (t) => {
  test("DATA on stream 0: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, data(0, "x")));

  test("DATA whose padding is longer than the payload: PROTOCOL_ERROR", () =>
    t.goaway(E.PROTOCOL_ERROR, post(1), frame(T.DATA, F.PADDED | F.END_STREAM, 1, Buffer.from([10, 0x61, 0x62]))));

  test("padded DATA is delivered without its padding", async () => {
    const seen = t.sidecar.upstream.received.length;
    await t.answers(
      1,
      200,
      headers(1, requestFields("/padded", [["content-length", "3"]], "POST")),
      frame(T.DATA, F.PADDED | F.END_STREAM, 1, Buffer.concat([Buffer.from([4]), Buffer.from("abc"), Buffer.alloc(4)])),
    );
    assert.equal(t.sidecar.upstream.received[seen]!.body, "abc");
  });
});

h2Conformance("RFC 9113 §6.2 HEADERS", (t) => {
  test("HEADERS on stream 0: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, get(0)));

  test("HEADERS whose padding is longer than the payload: PROTOCOL_ERROR", () => {
    const block = hpack(requestFields("/ok"));
    return t.goaway(
      E.PROTOCOL_ERROR,
      frame(T.HEADERS, F.PADDED | F.END_HEADERS | F.END_STREAM, 1, Buffer.concat([Buffer.from([255]), block])),
    );
  });

  test("HEADERS depending on its own stream: stream error PROTOCOL_ERROR (§5.3.1; node: connection error)", () =>
    t.streamError(
      1,
      E.PROTOCOL_ERROR,
      headers(1, requestFields("/ok"), { endStream: true, priority: [1, 16, false] }),
    ));

  test("HEADERS with a priority section is answered", () =>
    t.answers(1, 200, headers(1, requestFields("/ok"), { endStream: true, priority: [0, 200, true] })));
});

h2Conformance("RFC 9113 §6.3 PRIORITY", (t) => {
  test("PRIORITY on stream 0: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, priority(0, 1)));

  test("PRIORITY with a 4-byte payload: stream error FRAME_SIZE_ERROR", async () => {
    const c = await t.open(frame(T.PRIORITY, 0, 1, Buffer.alloc(4)));
    try {
      await c.frame((f) => f.type === T.RST_STREAM || f.type === T.GOAWAY);
      const f = c.frames.find((f) => f.type === T.RST_STREAM || f.type === T.GOAWAY)!;
      assert.equal(f.payload.readUInt32BE(f.type === T.GOAWAY ? 4 : 0), E.FRAME_SIZE_ERROR, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });

  test("PRIORITY on a stream that is closed is accepted", async () => {
    const c = await t.open(get(1));
    try {
      assert.equal((await c.stream(1)).status, 200);
      c.write(priority(1, 0, 32));
      await c.roundTrip();
      assert.equal(
        c.frames.some((f) => f.type === T.GOAWAY || f.type === T.RST_STREAM),
        false,
        c.describe(),
      );
    } finally {
      c.close();
    }
  });

  test("PRIORITY depending on its own stream: stream error PROTOCOL_ERROR (§5.3.1; node: connection error)", () =>
    t.streamError(3, E.PROTOCOL_ERROR, priority(3, 3)));
});

h2Conformance("RFC 9113 §6.4 RST_STREAM", (t) => {
  test("RST_STREAM on stream 0: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, rstStream(0, E.CANCEL)));

  test("RST_STREAM with a 3-byte payload: FRAME_SIZE_ERROR", () =>
    t.goaway(E.FRAME_SIZE_ERROR, post(1), frame(T.RST_STREAM, 0, 1, Buffer.alloc(3))));

  test("RST_STREAM on an idle stream: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, rstStream(7, E.CANCEL)));

  test("RST_STREAM on an open stream ends it without an answer, and the connection goes on", async () => {
    const c = await t.open(post(1, "/reset"), rstStream(1, E.CANCEL));
    try {
      await c.roundTrip();
      assert.deepEqual(
        c.frames.filter((f) => f.streamId === 1),
        [],
        c.describe(),
      );
    } finally {
      c.close();
    }
  });
});

h2Conformance("RFC 9113 §6.5 SETTINGS", (t) => {
  test("the client's SETTINGS is acknowledged with an empty SETTINGS ACK", async () => {
    const c = await t.open();
    try {
      const ack = await c.frame((f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0);
      assert.equal(ack.payload.length, 0);
      assert.equal(ack.streamId, 0);
    } finally {
      c.close();
    }
  });

  test("SETTINGS ACK with a payload: FRAME_SIZE_ERROR", () =>
    t.goaway(E.FRAME_SIZE_ERROR, frame(T.SETTINGS, F.ACK, 0, Buffer.alloc(6))));

  test("SETTINGS on a stream: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, frame(T.SETTINGS, 0, 1)));

  test("SETTINGS of a length that is not a multiple of 6: FRAME_SIZE_ERROR", () =>
    t.goaway(E.FRAME_SIZE_ERROR, frame(T.SETTINGS, 0, 0, Buffer.alloc(7))));

  test("SETTINGS_ENABLE_PUSH of 2: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, settings([[S.ENABLE_PUSH, 2]])));

  test("SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1: FLOW_CONTROL_ERROR", () =>
    t.goaway(E.FLOW_CONTROL_ERROR, settings([[S.INITIAL_WINDOW_SIZE, 0x80000000]])));

  test("an unknown setting is ignored", () => t.accepted(settings([[0x99, 12345]]), get(1)));

  test("SETTINGS_INITIAL_WINDOW_SIZE 0 then a WINDOW_UPDATE: the response still arrives", async () => {
    // The proxy cannot send the body until the client grants a window for the stream.
    const c = await t.open(settings([[S.INITIAL_WINDOW_SIZE, 0]]), get(1));
    try {
      await c.frame((f) => f.type === T.HEADERS && f.streamId === 1);
      assert.equal(
        c.frames.some((f) => f.type === T.DATA && f.streamId === 1 && f.payload.length > 0),
        false,
      );
      c.write(windowUpdate(1, 1 << 20));
      const outcome = await c.stream(1);
      assert.equal(outcome.status, 200);
      assert.ok(outcome.body.length > 0);
    } finally {
      c.close();
    }
  });
});

h2Conformance("RFC 9113 §6.7 PING", (t) => {
  test("PING is answered with a PING ACK carrying the same payload", async () => {
    const payload = Buffer.from("trellis!");
    const c = await t.open(ping(payload));
    try {
      const ack = await c.frame((f) => f.type === T.PING && (f.flags & F.ACK) !== 0);
      assert.deepEqual(ack.payload, payload);
    } finally {
      c.close();
    }
  });

  test("an unsolicited PING ACK: node ends the connection with PROTOCOL_ERROR", () =>
    // RFC 9113 §6.7 only forbids answering it; node treats a PING ACK it never asked for as a connection error
    // ("there is no legitimate reason to receive an unsolicited PING ack"), which §5.4.1 allows. Documented.
    t.goaway(E.PROTOCOL_ERROR, ping(Buffer.alloc(8), true)));

  test("PING on a stream: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, ping(Buffer.alloc(8), false, 1)));

  test("a PING flood (20000 in one write): ENHANCE_YOUR_CALM, the connection only", () =>
    // nghttp2 refuses to queue more than 1000 answers the peer has not read.
    t.goaway(E.ENHANCE_YOUR_CALM, Buffer.concat(Array.from({ length: 20_000 }, () => ping()))));

  test("a SETTINGS flood (20000 in one write): ENHANCE_YOUR_CALM, the connection only", () =>
    t.goaway(E.ENHANCE_YOUR_CALM, Buffer.concat(Array.from({ length: 20_000 }, () => settings()))));

  test("PING with a 6-byte payload: FRAME_SIZE_ERROR", () =>
    t.goaway(E.FRAME_SIZE_ERROR, frame(T.PING, 0, 0, Buffer.alloc(6))));
});

h2Conformance("RFC 9113 §6.8 GOAWAY", (t) => {
  test("GOAWAY on a stream: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, frame(T.GOAWAY, 0, 1, Buffer.alloc(8))));

  test("a client's GOAWAY: a stream it opened before still gets its answer", async () => {
    // The last stream id a client names is the last server-initiated (pushed) stream it processed: 0.
    const c = await t.open(get(1, "/before-goaway"), goaway(0, E.NO_ERROR));
    try {
      const outcome = await c.stream(1);
      assert.equal(outcome.status, 200, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });
});

h2Conformance("RFC 9113 §6.9 WINDOW_UPDATE", (t) => {
  test("a zero increment on the connection: PROTOCOL_ERROR", () => t.goaway(E.PROTOCOL_ERROR, windowUpdate(0, 0)));

  test("a zero increment on a stream: stream error PROTOCOL_ERROR (node: connection error)", () =>
    t.streamError(1, E.PROTOCOL_ERROR, post(1), windowUpdate(1, 0)));

  test("a GOAWAY naming a client-initiated stream as the last one: PROTOCOL_ERROR (nghttp2 checks it)", () =>
    t.goaway(E.PROTOCOL_ERROR, get(1), goaway(1, E.NO_ERROR)));

  test("the connection window beyond 2^31-1: FLOW_CONTROL_ERROR", () =>
    t.goaway(E.FLOW_CONTROL_ERROR, windowUpdate(0, 0x7fffffff)));

  test("a stream window beyond 2^31-1: RST_STREAM(FLOW_CONTROL_ERROR)", async () => {
    const c = await t.open(post(1), windowUpdate(1, 0x7fffffff));
    try {
      assert.equal((await c.stream(1)).rst, E.FLOW_CONTROL_ERROR, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });

  test("WINDOW_UPDATE with a 3-byte payload: FRAME_SIZE_ERROR", () =>
    t.goaway(E.FRAME_SIZE_ERROR, frame(T.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))));
});

h2Conformance("RFC 9113 §6.10 CONTINUATION", (t) => {
  const block = hpack(requestFields("/continued", [["x-part", "v".repeat(100)]]));

  test("a header block split over HEADERS and CONTINUATIONs is one request", async () => {
    const seen = t.sidecar.upstream.received.length;
    await t.answers(
      1,
      200,
      headers(1, block.subarray(0, 10), { endStream: true, endHeaders: false }),
      continuation(1, block.subarray(10, 50), false),
      continuation(1, block.subarray(50)),
    );
    assert.equal(t.sidecar.upstream.received[seen]!.url, "/continued");
  });

  test("another frame between HEADERS and its CONTINUATION: PROTOCOL_ERROR", () =>
    t.goaway(
      E.PROTOCOL_ERROR,
      headers(1, block.subarray(0, 10), { endStream: true, endHeaders: false }),
      ping(),
      continuation(1, block.subarray(10)),
    ));

  test("a CONTINUATION on another stream: PROTOCOL_ERROR", () =>
    t.goaway(
      E.PROTOCOL_ERROR,
      headers(1, block.subarray(0, 10), { endStream: true, endHeaders: false }),
      continuation(3, block.subarray(10)),
    ));

  test("a CONTINUATION without HEADERS before it: PROTOCOL_ERROR", () =>
    t.goaway(E.PROTOCOL_ERROR, continuation(1, block)));

  test("a CONTINUATION after a complete header block: PROTOCOL_ERROR", () =>
    t.goaway(E.PROTOCOL_ERROR, post(1), continuation(1, hpack([["x-late", "1"]]))));

  test("an endless stream of empty CONTINUATIONs ends the connection (CVE-2024-27316 class)", async () => {
    const flood = [headers(1, block.subarray(0, 10), { endStream: true, endHeaders: false })];
    for (let i = 0; i < 20_000; i++) flood.push(continuation(1, Buffer.alloc(0), false));
    const c = await t.open(...flood);
    try {
      const g = await c.goaway();
      assert.notEqual(g.code, E.NO_ERROR, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });
});
