import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  checkTransferEncoding,
  connection,
  firstUpgradeProtocol,
  isValidAuthority,
  parseConnection,
} from "./framing.ts";
import { MODE_REQUEST } from "./fields.ts";
import { Http1ParseError } from "./errors.ts";
import { asciiLower, isToken, isValidFieldValue } from "./chars.ts";

function teStatus(value: string): number | true {
  try {
    return checkTransferEncoding(value, MODE_REQUEST);
  } catch (err) {
    assert.ok(err instanceof Http1ParseError);
    return err.status;
  }
}

describe("framing fields", () => {
  test("Transfer-Encoding: exactly chunked, else 501 for codings and 400 for syntax", () => {
    assert.equal(teStatus("chunked"), true);
    assert.equal(teStatus("ChUnKeD"), true);
    assert.equal(teStatus(" chunked "), true);
    assert.equal(teStatus("gzip"), 501);
    assert.equal(teStatus("gzip, chunked"), 501);
    assert.equal(teStatus("chunked, gzip"), 501);
    assert.equal(teStatus("chunked;x=1"), 501);
    assert.equal(teStatus("chunked, chunked"), 400);
    assert.equal(teStatus(""), 400);
    assert.equal(teStatus("chunked,"), 400);
    assert.equal(teStatus("chunked x"), 400);
    assert.equal(teStatus('"chunked"'), 400);
  });

  test("Connection tokens", () => {
    parseConnection("Close", MODE_REQUEST);
    assert.deepEqual({ ...connection }, { close: true, keepAlive: false, upgrade: false, others: undefined });
    parseConnection("keep-alive, Upgrade, X-A,, x-b ", MODE_REQUEST);
    assert.deepEqual({ ...connection }, { close: false, keepAlive: true, upgrade: true, others: ["x-a", "x-b"] });
    parseConnection(undefined, MODE_REQUEST);
    assert.deepEqual({ ...connection }, { close: false, keepAlive: false, upgrade: false, others: undefined });
    assert.throws(() => parseConnection("close;x", MODE_REQUEST), Http1ParseError);
  });

  test("first Upgrade protocol", () => {
    assert.equal(firstUpgradeProtocol(" WebSocket , h2c"), "websocket");
    assert.equal(firstUpgradeProtocol("HTTP/2.0"), "http/2.0");
    assert.equal(firstUpgradeProtocol(" , x"), undefined);
  });

  test("authority validation", () => {
    const ok = [
      "a",
      "example.com",
      "a:1",
      "a:65535",
      "1.2.3.4:80",
      "[::1]",
      "[::1]:8080",
      "[2001:db8::1]",
      "x_y-z~!$&'()*+,;=%20",
    ];
    for (const a of ok) assert.equal(isValidAuthority(a, false, false), true, a);
    const bad = [
      "",
      "a b",
      "u@h",
      "a/b",
      "a?b",
      "a:",
      "a:65536",
      "a:123456",
      "a:8x",
      ":80",
      "[::1",
      "[1]",
      "[::g]",
      "a\tb",
      "h\u00e9",
    ];
    for (const a of bad) assert.equal(isValidAuthority(a, false, false), false, a);
    assert.equal(isValidAuthority("", false, true), true);
    assert.equal(isValidAuthority("a", true, false), false);
    assert.equal(isValidAuthority("a:443", true, false), true);
  });

  test("character helpers", () => {
    assert.equal(isToken("x-a_b!"), true);
    assert.equal(isToken(""), false);
    assert.equal(isToken("a b"), false);
    assert.equal(isValidFieldValue("a b\tc\u00e9"), true);
    assert.equal(isValidFieldValue(""), true);
    assert.equal(isValidFieldValue(" a"), false);
    assert.equal(isValidFieldValue("a\r\nx: y"), false);
    assert.equal(isValidFieldValue("\u0100"), false);
    assert.equal(asciiLower("Content-Type"), "content-type");
    assert.equal(asciiLower("X-\u00c9"), "x-\u00c9");
    const same = "already-lower";
    assert.equal(asciiLower(same), same);
  });
});
