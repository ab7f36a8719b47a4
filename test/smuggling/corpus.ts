// Request-smuggling corpus: the byte sequences from the public literature (PortSwigger's CL.TE / TE.CL / TE.TE
// research, RFC 9112 §11.2, the llhttp and Envoy codec tests, "HTTP Desync" write-ups) that front ends and back ends
// have read two ways, and the legitimate messages a strict parser must still accept.
//
// A plain data module: the parser test drives each case through the codec, and the end-to-end suite sends the same
// bytes through the real proxy. `raw` is the exact bytes as a latin1 string ("\r\n" written out).
//   reject: somewhere in these bytes the proxy must refuse (answer `status` and close), never forward.
//   accept: the bytes are exactly `requests` complete requests (bodies included), nothing left over.

export interface SmugglingCase {
  name: string;
  raw: string;
  expect: "reject" | "accept";
  /** For accept: how many complete requests the bytes contain. */
  requests?: number;
  /** For reject: the status the proxy answers with. */
  status?: number;
}

const H = "Host: example.com\r\n";
const POST = "POST /submit HTTP/1.1\r\n" + H;
const GET = "GET / HTTP/1.1\r\n" + H + "\r\n";

export const smugglingCases: SmugglingCase[] = [
  // ---- CL.TE and TE.CL: both framings present -------------------------------------------------------------------
  {
    name: "CL.TE: Content-Length and Transfer-Encoding both present",
    raw: POST + "Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
    expect: "reject",
    status: 400,
  },
  {
    name: "TE.CL: Transfer-Encoding before Content-Length",
    raw: POST + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "CL.TE with Content-Length: 0",
    raw: POST + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },

  // ---- TE.TE: obfuscated Transfer-Encoding ---------------------------------------------------------------------
  {
    name: "space between Transfer-Encoding and colon",
    raw: POST + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "tab between Transfer-Encoding and colon",
    raw: POST + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Transfer-Encoding: xchunked",
    raw: POST + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: "Transfer-Encoding: chunked, identity",
    raw: POST + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: "Transfer-Encoding: identity, chunked (identity is no longer a coding)",
    raw: POST + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: "Transfer-Encoding: gzip, chunked (a coding the proxy would silently drop)",
    raw: POST + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: "Transfer-Encoding: gzip alone",
    raw: POST + "Transfer-Encoding: gzip\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: "Transfer-Encoding: chunk (truncated name)",
    raw: POST + "Transfer-Encoding: chunk\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: "Transfer-Encoding: chunked;q=1 (parameters on chunked)",
    raw: POST + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: 'Transfer-Encoding: "chunked" (quoted)',
    raw: POST + 'Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n',
    expect: "reject",
    status: 400,
  },
  {
    name: "Transfer-Encoding: chunked, chunked (applied twice)",
    raw: POST + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "duplicate Transfer-Encoding: chunked lines",
    raw: POST + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "duplicate Transfer-Encoding with an obfuscated second value",
    raw: POST + "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 501,
  },
  {
    name: "empty Transfer-Encoding",
    raw: POST + "Transfer-Encoding:\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Transfer-Encoding with an empty list element",
    raw: POST + "Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "vertical tab (0x0b) before the Transfer-Encoding value",
    raw: POST + "Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "form feed (0x0c) before the Transfer-Encoding value",
    raw: POST + "Transfer-Encoding:\x0cchunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "vertical tab after chunked",
    raw: POST + "Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "NUL inside the Transfer-Encoding value",
    raw: POST + "Transfer-Encoding: chun\x00ked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Transfer-Encoding split by a bare LF before the colon",
    raw: POST + "Transfer-Encoding\n: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Transfer-Encoding as an obs-fold continuation line",
    raw: POST + "X-Padding: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Transfer-Encoding value folded onto the next line (obs-fold)",
    raw: POST + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "leading space before the first field line",
    raw: "POST /submit HTTP/1.1\r\n Transfer-Encoding: chunked\r\n" + H + "\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Transfer-Encoding in an HTTP/1.0 request",
    raw: "POST /submit HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "non-ASCII byte in the Transfer-Encoding name",
    raw: POST + "Transfer-Encodin\xe7: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },

  // ---- Content-Length obfuscations -----------------------------------------------------------------------------
  { name: "Content-Length: +5", raw: POST + "Content-Length: +5\r\n\r\nhello", expect: "reject", status: 400 },
  { name: "Content-Length: -1", raw: POST + "Content-Length: -1\r\n\r\n", expect: "reject", status: 400 },
  { name: "Content-Length: 5 5", raw: POST + "Content-Length: 5 5\r\n\r\nhello", expect: "reject", status: 400 },
  {
    name: "Content-Length: 5, 5 (list)",
    raw: POST + "Content-Length: 5, 5\r\n\r\nhello",
    expect: "reject",
    status: 400,
  },
  { name: "Content-Length: 0x5 (hex)", raw: POST + "Content-Length: 0x5\r\n\r\nhello", expect: "reject", status: 400 },
  { name: "Content-Length: 1_0", raw: POST + "Content-Length: 1_0\r\n\r\n", expect: "reject", status: 400 },
  { name: "empty Content-Length", raw: POST + "Content-Length:\r\n\r\n", expect: "reject", status: 400 },
  {
    name: "Content-Length beyond a safe integer",
    raw: POST + "Content-Length: 99999999999999999999\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "repeated Content-Length, equal values",
    raw: POST + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    expect: "reject",
    status: 400,
  },
  {
    name: "repeated Content-Length, different values",
    raw: POST + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    expect: "reject",
    status: 400,
  },
  {
    name: "space between Content-Length and colon",
    raw: POST + "Content-Length : 5\r\n\r\nhello",
    expect: "reject",
    status: 400,
  },
  {
    name: "Content-Length as an obs-fold line",
    raw: POST + "X-Padding: x\r\n Content-Length: 5\r\n\r\nhello",
    expect: "reject",
    status: 400,
  },
  {
    name: "NUL after the Content-Length digits",
    raw: POST + "Content-Length: 5\x00\r\n\r\nhello",
    expect: "reject",
    status: 400,
  },
  {
    name: "vertical tab before the Content-Length value",
    raw: POST + "Content-Length:\x0b5\r\n\r\nhello",
    expect: "reject",
    status: 400,
  },
  {
    name: "full-width digit in Content-Length (UTF-8 bytes)",
    raw: POST + "Content-Length: \xef\xbc\x95\r\n\r\nhello",
    expect: "reject",
    status: 400,
  },

  // ---- line endings and bytes that must never appear -----------------------------------------------------------
  { name: "bare LF after the request line", raw: "GET / HTTP/1.1\n" + H + "\r\n", expect: "reject", status: 400 },
  {
    name: "bare LF ending a field line",
    raw: "GET / HTTP/1.1\r\n" + "Host: example.com\nX-A: b\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  { name: "bare LF ending the head", raw: "GET / HTTP/1.1\r\n" + H + "\n", expect: "reject", status: 400 },
  { name: "all bare LF line endings", raw: "GET / HTTP/1.1\nHost: example.com\n\n", expect: "reject", status: 400 },
  {
    name: "bare CR inside a field line",
    raw: "GET / HTTP/1.1\r\n" + H + "X-A: a\rX-B: b\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  { name: "bare CR ending the head", raw: "GET / HTTP/1.1\r\n" + H + "\rX", expect: "reject", status: 400 },
  {
    name: "NUL in a field value",
    raw: "GET / HTTP/1.1\r\n" + H + "X-A: a\x00b\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  { name: "NUL in a field name", raw: "GET / HTTP/1.1\r\n" + H + "X-\x00A: b\r\n\r\n", expect: "reject", status: 400 },
  {
    name: "DEL in a field value",
    raw: "GET / HTTP/1.1\r\n" + H + "X-A: a\x7fb\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "ESC in a field value",
    raw: "GET / HTTP/1.1\r\n" + H + "X-A: a\x1bb\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "space inside a field name",
    raw: "GET / HTTP/1.1\r\n" + H + "X A: b\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  { name: "empty field name", raw: "GET / HTTP/1.1\r\n" + H + ": b\r\n\r\n", expect: "reject", status: 400 },
  { name: "field line without a colon", raw: "GET / HTTP/1.1\r\n" + H + "X-A\r\n\r\n", expect: "reject", status: 400 },
  {
    name: "separator '(' in a field name",
    raw: "GET / HTTP/1.1\r\n" + H + "X(A): b\r\n\r\n",
    expect: "reject",
    status: 400,
  },

  // ---- request line ---------------------------------------------------------------------------------------------
  { name: "two spaces after the method", raw: "GET  / HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "two spaces before the version", raw: "GET /  HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "space after the version", raw: "GET / HTTP/1.1 \r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "tab as separator", raw: "GET\t/ HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "space inside the target", raw: "GET /a b HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "NUL inside the target", raw: "GET /a\x00 HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "fragment in the target", raw: "GET /a#frag HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\n" + H + "\r\n", expect: "reject", status: 505 },
  { name: "HTTP/2.0 in an HTTP/1 request line", raw: "GET / HTTP/2.0\r\n" + H + "\r\n", expect: "reject", status: 505 },
  { name: "HTTP/0.9 style request line", raw: "GET /\r\n\r\n", expect: "reject", status: 400 },
  { name: "lower-case version", raw: "GET / http/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "two-digit minor version", raw: "GET / HTTP/1.10\r\n" + H + "\r\n", expect: "reject", status: 400 },
  { name: "invalid byte in the method", raw: "G(T / HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  {
    name: "authority-form target without CONNECT",
    raw: "GET example.com:443 HTTP/1.1\r\n" + H + "\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "origin-form target with CONNECT",
    raw: "CONNECT / HTTP/1.1\r\n" + H + "\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "CONNECT without a port",
    raw: "CONNECT example.com HTTP/1.1\r\n" + H + "\r\n",
    expect: "reject",
    status: 400,
  },
  { name: "asterisk-form with GET", raw: "GET * HTTP/1.1\r\n" + H + "\r\n", expect: "reject", status: 400 },
  {
    name: "absolute-form with userinfo",
    raw: "GET http://user@example.com/ HTTP/1.1\r\n" + H + "\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "absolute-form with an unknown scheme",
    raw: "GET ftp://example.com/ HTTP/1.1\r\n" + H + "\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "request line longer than 16 KiB",
    raw: "GET /" + "a".repeat(17 * 1024) + " HTTP/1.1\r\n" + H + "\r\n",
    expect: "reject",
    status: 414,
  },

  // ---- Host -----------------------------------------------------------------------------------------------------
  { name: "HTTP/1.1 without Host", raw: "GET / HTTP/1.1\r\n\r\n", expect: "reject", status: 400 },
  {
    name: "two Host fields",
    raw: "GET / HTTP/1.1\r\nHost: example.com\r\nHost: evil.com\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Host with userinfo",
    raw: "GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "Host with a space inside",
    raw: "GET / HTTP/1.1\r\nHost: example.com evil.com\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  { name: "Host with a path", raw: "GET / HTTP/1.1\r\nHost: example.com/evil\r\n\r\n", expect: "reject", status: 400 },
  {
    name: "Host with a bad port",
    raw: "GET / HTTP/1.1\r\nHost: example.com:80x\r\n\r\n",
    expect: "reject",
    status: 400,
  },

  // ---- sizes ----------------------------------------------------------------------------------------------------
  {
    name: "101 header fields",
    raw: "GET / HTTP/1.1\r\n" + H + "X-A: b\r\n".repeat(100) + "\r\n",
    expect: "reject",
    status: 431,
  },
  {
    name: "head larger than 60 KiB",
    raw: "GET / HTTP/1.1\r\n" + H + ("X-Big: " + "b".repeat(8000) + "\r\n").repeat(8) + "\r\n",
    expect: "reject",
    status: 431,
  },

  // ---- chunked bodies -------------------------------------------------------------------------------------------
  {
    name: "chunk-size 0x5",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "space after chunk-size",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "space before chunk-size",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "chunk-size with a sign",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "negative chunk-size",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n-1\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "chunk-ext without a name",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "chunk-ext with whitespace before ';'",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "chunk-ext with a bare LF inside (chunk-ext smuggling)",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "chunk-size of 17 hex digits",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "chunk-size beyond a safe integer (16 digits)",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "chunk data longer than its size",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "missing CRLF after chunk data",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "bare LF after chunk-size",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "bare LF after chunk data",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "bare CR after chunk-size",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "missing final CRLF: the next request is read as a trailer",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n0\r\nGET /admin HTTP/1.1\r\n" + H + "\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "bare LF ending the last chunk",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n0\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "invalid trailer field",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n0\r\nX Bad: v\r\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "trailer field ending with a bare LF",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: v\n\r\n",
    expect: "reject",
    status: 400,
  },
  {
    name: "pipelined smuggle attempt behind a valid request, with CL.TE",
    raw: GET + POST + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: "reject",
    status: 400,
  },

  // ---- legitimate traffic that must pass ----------------------------------------------------------------------
  { name: "simple GET", raw: GET, expect: "accept", requests: 1 },
  { name: "three pipelined GETs", raw: GET + GET + GET, expect: "accept", requests: 3 },
  {
    name: "POST with Content-Length then a pipelined GET",
    raw: POST + "Content-Length: 5\r\n\r\nhello" + GET,
    expect: "accept",
    requests: 2,
  },
  {
    name: "Content-Length with leading zeros (still 1*DIGIT)",
    raw: POST + "Content-Length: 05\r\n\r\nhello",
    expect: "accept",
    requests: 1,
  },
  {
    name: "Content-Length with trailing OWS",
    raw: POST + "Content-Length: 5 \r\n\r\nhello",
    expect: "accept",
    requests: 1,
  },
  {
    name: "Content-Length: 0 on a GET",
    raw: "GET / HTTP/1.1\r\n" + H + "Content-Length: 0\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "chunked body",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "Transfer-Encoding:<TAB>chunked (OWS may be a tab)",
    raw: POST + "Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "Transfer-Encoding: CHUNKED (case-insensitive)",
    raw: POST + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "lower-case field names",
    raw: "POST /submit HTTP/1.1\r\nhost: example.com\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "chunked with extensions (token and quoted values)",
    raw: POST + 'Transfer-Encoding: chunked\r\n\r\n5;name=value;q="a \\"b\\" c";flag\r\nhello\r\n0;last\r\n\r\n',
    expect: "accept",
    requests: 1,
  },
  {
    name: "chunked with trailers",
    raw:
      POST +
      "Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "upper-case hex and leading zeros in chunk-size",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n00A\r\n0123456789\r\n0\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "chunked POST then a pipelined GET",
    raw: POST + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + GET,
    expect: "accept",
    requests: 2,
  },
  {
    name: "HTTP/1.0 without Host, keep-alive, pipelined",
    raw: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
    expect: "accept",
    requests: 2,
  },
  {
    name: "HTTP/1.0 POST with Content-Length",
    raw: "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
    expect: "accept",
    requests: 1,
  },
  {
    name: "absolute-form with a different Host (the target's authority wins)",
    raw: "GET http://example.com/path?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "absolute-form https with port",
    raw: "GET https://example.com:8443 HTTP/1.1\r\n" + H + "\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "CONNECT host:port",
    raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  { name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\n" + H + "\r\n", expect: "accept", requests: 1 },
  {
    name: "WebSocket upgrade request",
    raw:
      "GET /chat HTTP/1.1\r\n" +
      H +
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "Expect: 100-continue with a body",
    raw: POST + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
    expect: "accept",
    requests: 1,
  },
  { name: "leading CRLF before the request line", raw: "\r\n" + GET, expect: "accept", requests: 1 },
  {
    name: "obs-text, tabs and inner spaces in values; empty value",
    raw: "GET / HTTP/1.1\r\n" + H + "X-Latin: caf\xe9\r\nX-Tabs:\ta\t b \t\r\nX-Empty:\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "every tchar in a field name, underscore included",
    raw: "GET / HTTP/1.1\r\n" + H + "X-!#$%&'*+.^_`|~09az: v\r\nTransfer_Encoding: chunked\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "query string and percent-encoding in the target",
    raw: "GET /search?q=a%20b&x=%2F HTTP/1.1\r\n" + H + "\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "Host with IPv6 literal and port",
    raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  {
    name: "Connection: close",
    raw: "GET / HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n",
    expect: "accept",
    requests: 1,
  },
  { name: "custom method", raw: "PROPFIND /dav HTTP/1.1\r\n" + H + "\r\n", expect: "accept", requests: 1 },
];
