// The hostile HTTP/1.1 corpus with exact outcomes: for each input, the exact bytes that must reach the upstream (the
// request(s) after the proxy's normalisation, or nothing) and the statuses the client must get, in order. Driven
// through a real sidecar (generate_request_id off, so the bytes are deterministic) to a raw recording upstream by
// exact.test.ts. `raw` is latin1 with "\r\n" written out.

export interface ExactCase {
  name: string;
  raw: string;
  /** Every byte the upstream must receive ("" = nothing at all). */
  upstream: string;
  /** Final statuses the client gets, in order (interim 1xx excluded). */
  statuses: number[];
  /** The last answer is the proxy's own refusal: it carries x-trellis-response-flags: DPE. */
  refused?: boolean;
  /** Interim responses the client must (true) or must not (false) get: "HTTP/1.1 100 Continue". */
  continue?: boolean;
}

/** What the proxy adds to every forwarded request on a sidecar listener. */
const XFP = "x-forwarded-proto: http\r\n";
const GET_A = "GET /a HTTP/1.1\r\nHost: app\r\n\r\n";
const FWD_GET_A = `GET /a HTTP/1.1\r\nhost: app\r\n${XFP}\r\n`;
const POST = "POST /p HTTP/1.1\r\nHost: app\r\n";

export const exactCases: ExactCase[] = [
  // ---- framing conflicts ------------------------------------------------------------------------------------------
  {
    name: "CL.TE: Content-Length and Transfer-Encoding",
    raw: POST + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "TE.CL: Transfer-Encoding then Content-Length",
    raw: POST + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "duplicate Content-Length, equal values",
    raw: POST + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "Content-Length with a sign",
    raw: POST + "Content-Length: +3\r\n\r\nabc",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "Transfer-Encoding in an HTTP/1.0 request",
    raw: "POST /p HTTP/1.0\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "duplicate Host",
    raw: "GET /a HTTP/1.1\r\nHost: app\r\nHost: evil\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },

  // ---- bytes that two parsers could read two ways -----------------------------------------------------------------
  {
    name: "obs-fold continuation line",
    raw: "GET /a HTTP/1.1\r\nHost: app\r\nX-Folded: a\r\n b\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "bare LF ending a field line",
    raw: "GET /a HTTP/1.1\r\nHost: app\nX-A: 1\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "bare CR inside a value",
    raw: "GET /a HTTP/1.1\r\nHost: app\r\nX-A: 1\r2\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "NUL in a value",
    raw: "GET /a HTTP/1.1\r\nHost: app\r\nX-A: a\x00b\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "control byte in a name",
    raw: "GET /a HTTP/1.1\r\nHost: app\r\nX\x01A: 1\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "NUL in the request-target",
    raw: "GET /a\x00b HTTP/1.1\r\nHost: app\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "space before the colon of Transfer-Encoding",
    raw: POST + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },

  // ---- targets and sizes ------------------------------------------------------------------------------------------
  {
    name: "absolute-form target: its authority wins over Host, the path is origin-form upstream",
    raw: "GET http://Other.example:8080/p?q HTTP/1.1\r\nHost: app\r\n\r\n",
    upstream: `GET /p?q HTTP/1.1\r\nhost: Other.example:8080\r\n${XFP}\r\n`,
    statuses: [200],
  },
  {
    name: "absolute-form with userinfo",
    raw: "GET http://user@app/p HTTP/1.1\r\nHost: app\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "request line over 16 KiB",
    raw: "GET /" + "a".repeat(16 * 1024) + " HTTP/1.1\r\nHost: app\r\n\r\n",
    upstream: "",
    statuses: [414],
    refused: true,
  },
  {
    name: "head over 60 KiB",
    raw: "GET /a HTTP/1.1\r\nHost: app\r\nX-Big: " + "b".repeat(61 * 1024) + "\r\n\r\n",
    upstream: "",
    statuses: [431],
    refused: true,
  },

  // ---- chunked bodies ---------------------------------------------------------------------------------------------
  // A bad chunk in the same read as its head is refused before the (fresh) sidecar has an upstream connection open:
  // nothing at all is sent. On a pooled connection the head could go first; the request is then reset, never completed.
  {
    name: "chunk extensions are consumed; the body is re-chunked without them",
    raw: POST + 'Transfer-Encoding: chunked\r\n\r\n3;name=value;q="a b"\r\nabc\r\n0;last\r\n\r\n',
    upstream: `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    statuses: [200],
  },
  {
    name: "a malformed chunk extension",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n0\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "chunk-size with a 0x prefix",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
    upstream: "",
    statuses: [400],
    refused: true,
  },
  {
    name: "trailers: forbidden fields dropped, the rest forwarded",
    raw:
      POST +
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 9\r\nContent-Length: 99\r\nHost: evil\r\n" +
      "Transfer-Encoding: chunked\r\nConnection: close\r\nSet-Cookie: a=b\r\n\r\n",
    upstream: `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-sum: 9\r\n\r\n`,
    statuses: [200],
  },

  // ---- pipelining and keep-alive ----------------------------------------------------------------------------------
  {
    name: "pipelining after an error: the request before it is answered, nothing after it is read",
    raw: GET_A + "GET /b HTTP/1.1\r\nHost: app\r\nBad Name: x\r\n\r\n" + "GET /c HTTP/1.1\r\nHost: app\r\n\r\n",
    upstream: FWD_GET_A,
    statuses: [200, 400],
    refused: true,
  },
  {
    name: "two pipelined requests with bodies arrive exactly, in order",
    raw: POST + "Content-Length: 3\r\n\r\nabc" + POST + "Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n",
    upstream:
      `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}content-length: 3\r\n\r\nabc` +
      `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}transfer-encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n`,
    statuses: [200, 200],
  },
  {
    name: "HTTP/1.0 keep-alive: the connection carries a second request, sent upstream as HTTP/1.1",
    raw: "GET /a HTTP/1.0\r\nHost: app\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nHost: app\r\n\r\n",
    upstream: FWD_GET_A + `GET /b HTTP/1.1\r\nhost: app\r\n${XFP}\r\n`,
    statuses: [200, 200],
  },
  {
    name: "HTTP/1.0 without keep-alive: the bytes after its request are never read",
    raw: "GET /a HTTP/1.0\r\nHost: app\r\n\r\nGET /b HTTP/1.0\r\nHost: app\r\n\r\n",
    upstream: FWD_GET_A,
    statuses: [200],
  },

  // ---- Expect and upgrades ----------------------------------------------------------------------------------------
  {
    name: "Expect: 100-continue from HTTP/1.0 is ignored and not forwarded",
    raw: "POST /p HTTP/1.0\r\nHost: app\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    upstream: `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}content-length: 2\r\n\r\nhi`,
    statuses: [200],
    continue: false,
  },
  {
    name: "Expect: 100-continue from HTTP/1.1 is the proxy's to answer, not forwarded",
    raw: POST + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    upstream: `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}content-length: 2\r\n\r\nhi`,
    statuses: [200],
    continue: true,
  },
  {
    name: "an h2c upgrade offer is served as HTTP/1.1, the offer stripped",
    raw:
      "GET /a HTTP/1.1\r\nHost: app\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
      "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    upstream: FWD_GET_A,
    statuses: [200],
  },
  {
    name: "an upgrade request with a body: the body is forwarded with it (the upstream declines with 200)",
    raw: "GET /ws HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello",
    upstream:
      `GET /ws HTTP/1.1\r\nhost: app\r\n${XFP}content-length: 5\r\n` +
      "connection: upgrade\r\nupgrade: websocket\r\n\r\nhello",
    statuses: [200],
  },
  {
    name: "an upgrade request with a chunked body: re-chunked and forwarded with it",
    raw:
      "GET /ws HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\n\r\n",
    upstream:
      `GET /ws HTTP/1.1\r\nhost: app\r\n${XFP}transfer-encoding: chunked\r\n` +
      "connection: upgrade\r\nupgrade: websocket\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    statuses: [200],
  },
];

/** Requests sent split at every byte boundary (two writes), each must arrive exactly as `upstream` says. */
export const splitCases: ExactCase[] = [
  {
    name: "POST with Content-Length",
    raw: POST + "Content-Length: 3\r\n\r\nabc",
    upstream: `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}content-length: 3\r\n\r\nabc`,
    statuses: [200],
  },
  {
    name: "chunked POST with an extension and a trailer",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    upstream: `POST /p HTTP/1.1\r\nhost: app\r\n${XFP}transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n`,
    statuses: [200],
  },
  {
    name: "CL.TE conflict",
    raw: POST + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    upstream: "",
    statuses: [400],
    refused: true,
  },
];
