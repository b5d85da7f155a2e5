import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import type { FastifyBaseLogger } from "fastify";
import { spawnSync } from "node:child_process";
import { accessLogWriter } from "../../src/http/access-log.js";
import { LogDestination } from "../../src/http/log-destination.js";
import { lazyChildLogger } from "../../src/http/lazy-logger.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** A stream that keeps what is written to it, line by line. */
function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, lines: () => text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("the access log", () => {
  it("writes the line pino would write for the same fields, with the query cut off and strings escaped", () => {
    const out = capture();
    const logger = pino({ level: "info" }, out.stream);
    const write = accessLogWriter(logger, out.stream);
    write({ requestId: 'odd"id\\', method: "POST", url: '/v1/chat/completions?key=sk-secret"', status: 200, ms: 3.6 });
    logger.info({ request_id: 'odd"id\\', method: "POST", url: '/v1/chat/completions', status: 200, ms: 4 }, "request");
    const [ours, pinos] = out.lines();
    assert.ok(ours && pinos);
    assert.deepEqual(Object.keys(ours), Object.keys(pinos), "same fields in the same order");
    assert.deepEqual({ ...ours, time: 0 }, { ...pinos, time: 0 });
    assert.ok(Math.abs((ours.time as number) - Date.now()) < 60_000);
  });

  it("writes nothing when the logger's level is above info, and follows a level changed at run time", () => {
    const out = capture();
    const logger = pino({ level: "warn" }, out.stream);
    const write = accessLogWriter(logger, out.stream);
    const entry = { requestId: "r1", method: "GET", url: "/health", status: 200, ms: 1 };
    write(entry);
    assert.equal(out.lines().length, 0);
    logger.level = "info";
    write(entry);
    assert.equal(out.lines().length, 1);
  });

  describe("on a running server", () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ models: {} });
    });
    after(() => s.close());

    it("logs one line per request with its id, method, path without query, status and duration", async () => {
      const res = await fetch(`${s.url}/v1/models?secret=hidden-value`);
      assert.equal(res.status, 200);
      const id = res.headers.get("x-request-id");
      const lines = s
        .log()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.request_id === id);
      assert.equal(lines.length, 1);
      const [line] = lines;
      assert.equal(line!.msg, "request");
      assert.equal(line!.method, "GET");
      assert.equal(line!.url, "/v1/models");
      assert.equal(line!.status, 200);
      assert.equal(typeof line!.ms, "number");
      assert.ok(!s.log().includes("hidden-value"), "the query never reaches the log");
    });
  });
});

describe("a request's own logger", () => {
  it("makes its pino child only when something logs, then logs with the request's bindings at every level", () => {
    const out = capture();
    const parent = pino({ level: "info" }, out.stream);
    let made = 0;
    const child = parent.child.bind(parent);
    parent.child = ((...args: Parameters<typeof child>) => {
      made++;
      return child(...args);
    }) as typeof parent.child;
    const log = lazyChildLogger(parent as unknown as FastifyBaseLogger, { request_id: "r-1" }, {});
    assert.equal(made, 0, "no child until it is used");
    log.info("first");
    log.error({ detail: 1 }, "second");
    log.debug("below the level");
    assert.equal(made, 1, "one child, made once");
    assert.equal(log.level, "info");
    log.level = "debug";
    log.debug("now logged");
    assert.deepEqual(
      out.lines().map((l) => [l.request_id, l.msg, l.level]),
      [
        ["r-1", "first", 30],
        ["r-1", "second", 50],
        ["r-1", "now logged", 20],
      ],
    );
  });
});

describe("the log destination", () => {
  /** A destination's output, one entry per write call. */
  const recorder = () => {
    const writes: string[] = [];
    return { writes, out: { write: (text: string) => writes.push(text) } };
  };
  const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

  it("sends the access-log lines of one event-loop turn together, in one write, once the turn ends", async () => {
    const { writes, out } = recorder();
    const d = new LogDestination(out);
    d.writeSoon("a\n");
    d.writeSoon("b\n");
    assert.deepEqual(writes, [], "nothing is written during the turn");
    await turnEnd();
    assert.deepEqual(writes, ["a\nb\n"]);
    d.writeSoon("c\n");
    await turnEnd();
    assert.deepEqual(writes, ["a\nb\n", "c\n"], "a later turn's line in a write of its own");
    d.close();
  });

  it("keeps the order lines were written in: any other line first sends what waits", async () => {
    const { writes, out } = recorder();
    const d = new LogDestination(out);
    d.writeSoon("access 1\n");
    d.write("error\n");
    d.writeSoon("access 2\n");
    await turnEnd();
    assert.deepEqual(writes.join(""), "access 1\nerror\naccess 2\n");
    d.close();
  });

  it("sends a burst at once when it grows past 64 KiB, and what waits when closed", () => {
    const { writes, out } = recorder();
    const d = new LogDestination(out);
    const line = `${"x".repeat(1023)}\n`;
    for (let i = 0; i < 64; i++) d.writeSoon(line);
    assert.equal(writes.length, 1, "written without waiting for the turn's end");
    assert.equal(writes[0]!.length, 64 * 1024);
    d.writeSoon("last\n");
    d.close();
    assert.deepEqual(writes.slice(1), ["last\n"]);
  });

  it("serves as pino's destination: its lines keep their place, and logger.flush(cb) sends what waits and calls back", async () => {
    const { writes, out } = recorder();
    const d = new LogDestination(out);
    const logger = pino({ level: "info", base: null, timestamp: false }, d);
    d.writeSoon("access\n");
    logger.info("after");
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    assert.deepEqual(writes, ["access\n", '{"level":30,"msg":"after"}\n']);
    d.writeSoon("waiting\n");
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    assert.equal(writes.at(-1), "waiting\n");
    d.close();
  });

  it("sends what waits when the process dies of an uncaught exception in the same turn", () => {
    const module = new URL("../../src/http/log-destination.ts", import.meta.url).href;
    const code = `import { LogDestination } from ${JSON.stringify(module)};
      const d = new LogDestination({ write: (t) => process.stdout.write(t) });
      d.writeSoon("waiting line\\n");
      throw new Error("boom");`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8" });
    assert.notEqual(r.status, 0, "the process died");
    assert.match(r.stderr, /boom/);
    assert.equal(r.stdout, "waiting line\n");
  });
});
