import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../api/clock.ts";
import { TrellisError } from "../api/errors.ts";
import {
  AccessLogManager,
  AccessLogSink,
  DEFAULT_ACCESS_LOG_FORMAT,
  FILE_ACCESS_LOG_TYPE,
  STDOUT_ACCESS_LOG_TYPE,
  createFormatter,
  parseAccessLogConfig,
  type AccessLogEntry,
  type LogOutput,
} from "./access-log.ts";

const dir = mkdtempSync(join(tmpdir(), "trellis-access-log-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileSeq = 0;
const tempFile = () => join(dir, `log-${fileSeq++}.log`);
const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

const P = "listeners[0].filter_chains[0].filters[0].typed_config.access_log";

describe("parseAccessLogConfig", () => {
  test("file logger with an inline text format", () => {
    const r = parseAccessLogConfig(
      [
        {
          name: "envoy.access_loggers.file",
          typed_config: {
            "@type": FILE_ACCESS_LOG_TYPE,
            path: "/var/log/a.log",
            log_format: { text_format_source: { inline_string: "%RESPONSE_CODE%\n" } },
          },
        },
      ],
      P,
    );
    assert.deepEqual(r, {
      ok: true,
      value: [
        {
          name: "envoy.access_loggers.file",
          path: "/var/log/a.log",
          format: { kind: "text", format: "%RESPONSE_CODE%\n", omitEmptyValues: false },
        },
      ],
    });
  });

  test("no log_format means Envoy's default format; stdout logger; camelCase field names", () => {
    const r = parseAccessLogConfig(
      [
        { name: "a", typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: "/dev/stdout" } },
        {
          typedConfig: {
            "@type": STDOUT_ACCESS_LOG_TYPE,
            logFormat: { jsonFormat: { c: "%RESPONSE_CODE%" }, omitEmptyValues: true },
          },
        },
      ],
      P,
    );
    assert.ok(r.ok);
    assert.deepEqual(r.value[0]!.format, { kind: "text", format: DEFAULT_ACCESS_LOG_FORMAT, omitEmptyValues: false });
    assert.deepEqual(r.value[1], {
      name: "envoy.access_loggers.stdout",
      path: "/dev/stdout",
      format: { kind: "json", json: { c: "%RESPONSE_CODE%" }, omitEmptyValues: true },
    });
  });

  test("legacy format / json_format fields, and text_format", () => {
    const r = parseAccessLogConfig(
      [
        { typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: "/x", format: "%PROTOCOL%\n" } },
        { typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: "/x", json_format: { p: "%PROTOCOL%" } } },
        { typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: "/x", log_format: { text_format: "%DURATION%\n" } } },
      ],
      P,
    );
    assert.ok(r.ok);
    assert.deepEqual(
      r.value.map((c) => c.format.kind),
      ["text", "json", "text"],
    );
  });

  test("absent list is no loggers", () => {
    assert.deepEqual(parseAccessLogConfig(undefined, P), { ok: true, value: [] });
  });

  test("every problem is reported with its field path", () => {
    const r = parseAccessLogConfig(
      [
        { typed_config: { "@type": FILE_ACCESS_LOG_TYPE } },
        {
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig",
          },
        },
        {
          typed_config: {
            "@type": FILE_ACCESS_LOG_TYPE,
            path: "/x",
            log_format: { text_format_source: { inline_string: "%BOGUS%" } },
          },
        },
        { typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: "/x", log_format: { json_format: { a: "%BOGUS%" } } } },
        { typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: "/x", format: "a", log_format: {} } },
        { filter: { status_code_filter: {} }, typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: "/x" } },
        "nope",
        { name: "n" },
      ],
      P,
    );
    assert.ok(!r.ok);
    assert.deepEqual(
      r.error.map((i) => i.path),
      [
        `${P}[0].typed_config.path`,
        `${P}[1].typed_config.@type`,
        `${P}[2].typed_config.log_format.text_format_source`,
        `${P}[3].typed_config.log_format.json_format`,
        `${P}[4].typed_config`,
        `${P}[5].filter`,
        `${P}[6]`,
        `${P}[7].typed_config`,
      ],
    );
    assert.match(r.error[2]!.message, /%BOGUS%/);
    assert.deepEqual(parseAccessLogConfig({}, P), {
      ok: false,
      error: [{ path: P, message: "expected a list of access loggers" }],
    });
  });
});

const sampleEntry: AccessLogEntry = {
  startWallMs: 0,
  method: "GET",
  path: "/",
  responseCode: 200,
  responseFlags: "",
  bytesReceived: 0,
  bytesSent: 5,
  durationMs: 1,
};

describe("AccessLogSink", () => {
  test("batches lines and writes them when the flush timer fires", async () => {
    const clock = new ManualClock();
    const path = tempFile();
    const sink = await AccessLogSink.open(path, clock, { flushIntervalMs: 1000 });
    sink.write("one\n");
    sink.write("two\n");
    assert.equal(clock.pendingTimers, 1);
    clock.advance(999);
    await sink.whenIdle();
    assert.equal(read(path), "");
    clock.advance(1);
    await sink.whenIdle();
    assert.equal(read(path), "one\ntwo\n");
    assert.equal(clock.pendingTimers, 0);
    sink.write("three\n");
    clock.advance(1000);
    await sink.whenIdle();
    assert.equal(read(path), "one\ntwo\nthree\n");
    await sink.close();
  });

  test("flushes at once when the batch passes 64 KiB", async () => {
    const clock = new ManualClock();
    const path = tempFile();
    const sink = await AccessLogSink.open(path, clock);
    const line = "x".repeat(1023) + "\n";
    for (let i = 0; i < 63; i++) sink.write(line);
    await sink.whenIdle();
    assert.equal(read(path), "");
    sink.write(line); // the 64th KiB
    await sink.whenIdle();
    assert.equal(read(path).length, 64 * 1024);
    assert.equal(sink.bufferedBytes, 0);
    await sink.close();
  });

  test("close flushes, then later lines are dropped and counted", async () => {
    const clock = new ManualClock();
    const path = tempFile();
    const sink = await AccessLogSink.open(path, clock);
    sink.write("last\n");
    await sink.close();
    assert.equal(read(path), "last\n");
    sink.write("late\n");
    assert.equal(sink.droppedLines, 1);
    assert.equal(read(path), "last\n");
  });

  test("appends to an existing file", async () => {
    const path = tempFile();
    writeFileSync(path, "before\n");
    const sink = await AccessLogSink.open(path, new ManualClock());
    sink.write("after\n");
    await sink.close();
    assert.equal(read(path), "before\nafter\n");
  });

  test("lines written while a write is in flight go out in the next batch, in order", async () => {
    const writes: string[] = [];
    let release: (() => void) | undefined;
    let onWrite: (() => void) | undefined;
    const nextWrite = () => new Promise<void>((r) => (onWrite = r));
    const output: LogOutput = {
      write: (data) =>
        new Promise<void>((resolve) => {
          writes.push(data);
          release = resolve;
          onWrite?.();
        }),
      close: async () => {},
    };
    const sink = new AccessLogSink(output, new ManualClock());
    sink.write("a\n");
    const flushed = sink.flush();
    sink.write("b\n");
    sink.write("c\n");
    assert.deepEqual(writes, ["a\n"]);
    const second = nextWrite();
    release!();
    await second;
    assert.deepEqual(writes, ["a\n", "b\nc\n"]);
    release!();
    await flushed;
  });

  test("a failing output counts errors and keeps going", async () => {
    const errors: Error[] = [];
    let fail = true;
    const got: string[] = [];
    const output: LogOutput = {
      write: async (data) => {
        if (fail) throw new Error("disk full");
        got.push(data);
      },
      close: async () => {},
    };
    const sink = new AccessLogSink(output, new ManualClock(), { onError: (e) => errors.push(e) });
    sink.write("lost\n");
    await sink.flush();
    fail = false;
    sink.write("kept\n");
    await sink.flush();
    assert.equal(sink.writeErrors, 1);
    assert.equal(errors[0]!.message, "disk full");
    assert.deepEqual(got, ["kept\n"]);
  });

  test("a stuck output makes the sink drop lines instead of growing without bound", async () => {
    const output: LogOutput = { write: () => new Promise<void>(() => {}), close: async () => {} };
    const sink = new AccessLogSink(output, new ManualClock(), { flushBytes: 10, maxPendingBytes: 20 });
    sink.write("0123456789\n"); // starts the (never finishing) write
    for (let i = 0; i < 5; i++) sink.write("0123456789\n");
    assert.ok(sink.droppedLines >= 3, `dropped ${sink.droppedLines}`);
    assert.ok(sink.bufferedBytes <= 20 + 11);
  });

  test("opening an impossible path fails with a stable code", async () => {
    await assert.rejects(
      AccessLogSink.open(join(dir, "no-such-dir", "x.log"), new ManualClock()),
      (e: unknown) => e instanceof TrellisError && e.code === "TRELLIS_ACCESS_LOG_OPEN",
    );
  });
});

describe("AccessLogManager", () => {
  test("loggers for one path share a sink; entries are formatted and written", async () => {
    const clock = new ManualClock();
    const manager = new AccessLogManager(clock);
    const path = tempFile();
    const [a, b] = await manager.loggers([
      { name: "a", path, format: { kind: "text", format: "A %RESPONSE_CODE%\n", omitEmptyValues: false } },
      { name: "b", path, format: { kind: "json", json: { code: "%RESPONSE_CODE%" }, omitEmptyValues: false } },
    ]);
    assert.equal(a!.sink, b!.sink);
    a!.log(sampleEntry);
    b!.log(sampleEntry);
    clock.advance(1000);
    await a!.sink.whenIdle();
    assert.equal(read(path), 'A 200\n{"code":200}\n');
    await manager.closeAll();
  });

  test("createFormatter follows the config kind", () => {
    const f = createFormatter({ kind: "text", format: "%BYTES_SENT%", omitEmptyValues: false });
    assert.equal(f(sampleEntry), "5");
  });
});
