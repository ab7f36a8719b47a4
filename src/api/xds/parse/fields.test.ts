import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ParseContext } from "./context.ts";
import { Fields, toSnakeCase } from "./fields.ts";

const SPEC = {
  handled: ["name", "port_value", "enabled", "timeout", "kind", "sub", "items", "labels"],
  ignored: ["metadata"],
  extensions: ["retry_policy"],
  unsupported: ["socket_options"],
};

function open(raw: unknown): { fields: Fields; ctx: ParseContext } {
  const ctx = new ParseContext();
  return { fields: Fields.open(ctx, raw, "root", SPEC), ctx };
}

describe("Fields", () => {
  test("toSnakeCase turns lowerCamelCase into snake_case and leaves snake_case alone", () => {
    assert.equal(toSnakeCase("portValue"), "port_value");
    assert.equal(toSnakeCase("http2ProtocolOptions"), "http2_protocol_options");
    assert.equal(toSnakeCase("maxRequestHeadersKb"), "max_request_headers_kb");
    assert.equal(toSnakeCase("port_value"), "port_value");
  });

  test("reads both casings and reports paths as written", () => {
    const { fields, ctx } = open({ portValue: "x", enabled: true });
    assert.equal(fields.integer("port_value", 7), 7);
    assert.equal(fields.at("port_value"), "root.portValue");
    assert.equal(fields.at("timeout"), "root.timeout");
    assert.deepEqual(ctx.issues, [{ path: "root.portValue", message: 'expected an integer 0-4294967295, got "x"' }]);
  });

  test("unknown, unsupported and doubly given fields are issues; ignored and extension fields are not", () => {
    const { fields, ctx } = open({
      foo: 1,
      socketOptions: [],
      name: "a",
      Name: "b",
      metadata: { x: 1 },
      retry_policy: { num_retries: 2 },
    });
    assert.deepEqual(ctx.issues, [
      { path: "root.foo", message: 'unknown field "foo"' },
      { path: "root.socketOptions", message: '"socketOptions" is not supported yet' },
      { path: "root.Name", message: 'unknown field "Name"' },
    ]);
    assert.deepEqual(fields.extensions(), { retry_policy: { num_retries: 2 } });
    const twice = open({ port_value: 1, portValue: 2 });
    assert.deepEqual(twice.ctx.issues, [
      { path: "root.portValue", message: 'field given twice (as "port_value" and "portValue")' },
    ]);
  });

  test("a message that is not an object is one issue; its required fields are not reported again", () => {
    const { fields, ctx } = open("text");
    assert.equal(fields.requiredString("name"), "");
    assert.deepEqual(ctx.issues, [{ path: "root", message: 'expected an object, got "text"' }]);
  });

  test("null means not set", () => {
    const { fields, ctx } = open({ name: null, enabled: null });
    assert.equal(fields.has("name"), false);
    assert.equal(fields.bool("enabled", true), true);
    assert.equal(ctx.failed, false);
  });

  test("bool accepts the BoolValue wrapper", () => {
    const { fields, ctx } = open({ enabled: { value: false }, sub: "yes" });
    assert.equal(fields.bool("enabled", true), false);
    assert.equal(fields.bool("sub", true), true);
    assert.deepEqual(ctx.issues, [{ path: "root.sub", message: 'expected true or false, got "yes"' }]);
  });

  test("integer accepts UInt32Value, decimal strings, and checks the range", () => {
    assert.equal(open({ port_value: { value: 80 } }).fields.integer("port_value", 0, 1, 65535), 80);
    assert.equal(open({ port_value: "443" }).fields.integer("port_value", 0, 1, 65535), 443);
    const { fields, ctx } = open({ port_value: 70000, items: 1.5, sub: -1 });
    assert.equal(fields.integer("port_value", 1, 1, 65535), 1);
    fields.integer("items", 0);
    fields.integer("sub", 0, 2, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(ctx.issues, [
      { path: "root.port_value", message: "expected an integer 1-65535, got 70000" },
      { path: "root.items", message: "expected an integer 0-4294967295, got 1.5" },
      { path: "root.sub", message: "expected an integer >= 2, got -1" },
    ]);
  });

  test("enums by name or protobuf number; unsupported values named", () => {
    const values = ["A", "B", undefined, "D"] as const;
    const unsupported = [undefined, undefined, "C"];
    assert.equal(open({ kind: "B" }).fields.enumValue("kind", values, "A", unsupported), "B");
    assert.equal(open({ kind: 3 }).fields.enumValue("kind", values, "A", unsupported), "D");
    const c = open({ kind: "C" });
    assert.equal(c.fields.enumValue("kind", values, "A", unsupported), "A");
    assert.deepEqual(c.ctx.issues, [{ path: "root.kind", message: "C is not supported yet" }]);
    const two = open({ kind: 2 });
    two.fields.enumValue("kind", values, "A", unsupported);
    assert.deepEqual(two.ctx.issues, [{ path: "root.kind", message: "C is not supported yet" }]);
    // Names are matched case-insensitively, as Envoy parses enums.
    assert.equal(open({ kind: "b" }).fields.enumValue("kind", values, "A", unsupported), "B");
    const lower = open({ kind: "c" });
    lower.fields.enumValue("kind", values, "A", unsupported);
    assert.deepEqual(lower.ctx.issues, [{ path: "root.kind", message: "C is not supported yet" }]);
    const bad = open({ kind: "e" });
    bad.fields.enumValue("kind", values, "A", unsupported);
    assert.deepEqual(bad.ctx.issues, [{ path: "root.kind", message: 'expected one of A, B, D, got "e"' }]);
  });

  test("oneOf reports none (when required) and several", () => {
    const none = open({});
    assert.equal(none.fields.oneOf(["name", "kind"], true), undefined);
    assert.deepEqual(none.ctx.issues, [{ path: "root", message: "one of name, kind is required" }]);
    const both = open({ name: "a", kind: "b" });
    assert.equal(both.fields.oneOf(["name", "kind"], true), "name");
    assert.deepEqual(both.ctx.issues, [
      { path: "root", message: "only one of name, kind may be set, got name and kind" },
    ]);
    assert.equal(open({}).fields.oneOf(["name", "kind"], false), undefined);
  });

  test("lists carry each element's path; a non-list is an issue", () => {
    const { fields, ctx } = open({ items: ["a", 2], labels: "x" });
    assert.deepEqual(fields.stringList("items"), ["a"]);
    assert.deepEqual(fields.list("labels"), []);
    assert.deepEqual(ctx.issues, [
      { path: "root.items[1]", message: "expected a string, got 2" },
      { path: "root.labels", message: 'expected a list, got "x"' },
    ]);
  });

  test("required strings: missing and empty", () => {
    const missing = open({});
    missing.fields.requiredString("name");
    assert.deepEqual(missing.ctx.issues, [{ path: "root.name", message: "required" }]);
    const empty = open({ name: "" });
    empty.fields.requiredString("name");
    assert.deepEqual(empty.ctx.issues, [{ path: "root.name", message: "must not be empty" }]);
  });
});
