import { test } from "node:test";
import assert from "node:assert/strict";
import { parseProxyHeader } from "../listener/proxy-protocol.ts";
import { proxyProtocolHeader, V2_LOCAL_HEADER } from "./proxy-protocol-socket.ts";

test("headers written are read back by the listener filter's parser: v1 and v2, IPv4, IPv6, mixed families", () => {
  const cases = [
    { sourceAddress: "192.0.2.1", sourcePort: 1, destinationAddress: "10.0.0.2", destinationPort: 65535 },
    { sourceAddress: "2001:db8::7", sourcePort: 443, destinationAddress: "::1", destinationPort: 8080 },
    { sourceAddress: "fe80:0:0:1::", sourcePort: 5, destinationAddress: "1:2:3:4:5:6:7:8", destinationPort: 6 },
  ];
  for (const a of cases)
    for (const version of [1, 2] as const) {
      const h = parseProxyHeader(proxyProtocolHeader(version, a));
      assert.equal(h.kind, "header");
      assert.deepEqual(h.kind === "header" && h.addresses, a, `v${version} ${a.sourceAddress}`);
    }
  // An IPv4 peer of an IPv6 socket is written in its IPv4 form; IPv4 against IPv6 becomes mapped IPv6.
  assert.equal(
    proxyProtocolHeader(1, {
      sourceAddress: "::ffff:127.0.0.1",
      sourcePort: 1,
      destinationAddress: "127.0.0.1",
      destinationPort: 2,
    }).toString(),
    "PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n",
  );
  assert.equal(
    proxyProtocolHeader(1, {
      sourceAddress: "127.0.0.1",
      sourcePort: 1,
      destinationAddress: "::1",
      destinationPort: 2,
    }).toString(),
    "PROXY TCP6 ::ffff:127.0.0.1 ::1 1 2\r\n",
  );
  assert.deepEqual(parseProxyHeader(V2_LOCAL_HEADER), { kind: "header", version: 2, length: 16, addresses: undefined });
});
