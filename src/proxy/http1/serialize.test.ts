import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeChunk,
  encodeChunkHead,
  LAST_CHUNK,
  reasonPhrase,
  serializeRequestHead,
  serializeResponseHead,
  serializeTrailers,
} from "./serialize.ts";
import { isHopByHop, stripHopByHop } from "./hop-by-hop.ts";
import { Headers } from "../http/headers.ts";

describe("serializeRequestHead", () => {
  test("writes host first, the fields, then the framing; drops any host/content-length/transfer-encoding given", () => {
    const h = new Headers([
      "host",
      "old",
      "accept",
      "*/*",
      "content-length",
      "99",
      "transfer-encoding",
      "chunked",
      "x-a",
      "1",
    ]);
    assert.equal(
      serializeRequestHead("POST", "/p?q", "svc:80", h, { contentLength: 5, chunked: false }),
      "POST /p?q HTTP/1.1\r\nhost: svc:80\r\naccept: */*\r\nx-a: 1\r\ncontent-length: 5\r\n\r\n",
    );
    assert.equal(
      serializeRequestHead("PUT", "/", "a", new Headers(), { contentLength: -1, chunked: true }),
      "PUT / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    assert.equal(
      serializeRequestHead("GET", "/", "a", new Headers(), { contentLength: -1, chunked: false }),
      "GET / HTTP/1.1\r\nhost: a\r\n\r\n",
    );
    assert.equal(
      serializeRequestHead("GET", "/", "a", new Headers(), { contentLength: 0, chunked: false }),
      "GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n",
    );
  });
});

describe("serializeResponseHead", () => {
  test("status line with the registered phrase, a given one, or Unknown; fields then extra lines", () => {
    const h = new Headers(["content-type", "text/plain", "content-length", "2"]);
    assert.equal(
      serializeResponseHead(200, undefined, h, "connection: close\r\n"),
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\n",
    );
    assert.equal(serializeResponseHead(404, "Nope", new Headers(), ""), "HTTP/1.1 404 Nope\r\n\r\n");
    assert.equal(serializeResponseHead(599, undefined, new Headers(), ""), "HTTP/1.1 599 Unknown\r\n\r\n");
    assert.equal(serializeResponseHead(799, undefined, new Headers(), ""), "HTTP/1.1 799 Unknown\r\n\r\n");
  });

  test("reason phrases", () => {
    assert.equal(reasonPhrase(431), "Request Header Fields Too Large");
    assert.equal(reasonPhrase(505), "HTTP Version Not Supported");
    assert.equal(reasonPhrase(101), "Switching Protocols");
    assert.equal(reasonPhrase(299), "Unknown");
  });
});

describe("chunk encoding", () => {
  test("size line, data (not copied), CRLF; nothing for empty data", () => {
    assert.equal(encodeChunkHead(26), "1a\r\n");
    const data = Buffer.from("hello");
    const parts = encodeChunk(data);
    assert.equal(parts.length, 3);
    assert.equal(parts[1], data);
    assert.equal(Buffer.concat(parts).toString(), "5\r\nhello\r\n");
    assert.deepEqual(encodeChunk(Buffer.alloc(0)), []);
    assert.equal(LAST_CHUNK, "0\r\n\r\n");
  });

  test("trailers follow the last-chunk line", () => {
    const t = new Headers(["x-sum", "abc", "grpc-status", "0"]);
    assert.equal("0\r\n" + serializeTrailers(t), "0\r\nx-sum: abc\r\ngrpc-status: 0\r\n\r\n");
    assert.equal(serializeTrailers(new Headers()), "\r\n");
  });
});

describe("hop-by-hop fields", () => {
  test("Envoy's list: proxy-authenticate and proxy-authorization pass", () => {
    for (const n of ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]) {
      assert.equal(isHopByHop(n), true, n);
    }
    for (const n of ["proxy-authenticate", "proxy-authorization", "host", "content-length", "x-upgrade"]) {
      assert.equal(isHopByHop(n), false, n);
    }
  });

  test("stripHopByHop removes them and nominated fields in place, keeping te: trailers and order", () => {
    const h = new Headers([
      "connection",
      "keep-alive, x-drop",
      "a",
      "1",
      "te",
      "trailers",
      "keep-alive",
      "timeout=5",
      "x-drop",
      "gone",
      "transfer-encoding",
      "chunked",
      "b",
      "2",
      "te",
      "gzip",
    ]);
    stripHopByHop(h, ["x-drop"]);
    assert.deepEqual(h.list, ["a", "1", "te", "trailers", "b", "2"]);
  });
});
