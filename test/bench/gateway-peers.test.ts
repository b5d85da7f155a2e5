import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { wrkScript } from "../../src/bench/gateway.js";
import { portkeyHeaders, startNodeFloor, startPortkey } from "../../src/bench/gateway-peers.js";

/** An upstream that records what it received and answers JSON or, when asked to stream, three SSE events. */
async function recordingUpstream(): Promise<{ url: string; seen: { url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }[]; close(): void }> {
  const seen: { url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      seen.push({ url: req.url!, headers: req.headers, body });
      if (body.stream) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
        setTimeout(() => res.end('data: {"choices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n'), 20);
      } else {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "chat.completion", model: body.model }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => server.close() };
}

it("the Node floor forwards a chat request with its model renamed, and passes a stream through", async () => {
  const up = await recordingUpstream();
  const floor = await startNodeFloor(up.url, "upstream-model");
  try {
    const post = (stream: boolean) =>
      fetch(`${floor.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "asked", stream, messages: [{ role: "user", content: "hi" }] }) });
    const json = await post(false);
    assert.equal(json.status, 200);
    assert.deepEqual(await json.json(), { object: "chat.completion", model: "upstream-model" });
    const sse = await post(true);
    assert.equal(sse.headers.get("content-type"), "text/event-stream");
    assert.equal(await sse.text(), 'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n');
    assert.deepEqual(
      up.seen.map((s) => [s.url, s.body.model, s.body.stream, s.body.messages]),
      [
        ["/v1/chat/completions", "upstream-model", false, [{ role: "user", content: "hi" }]],
        ["/v1/chat/completions", "upstream-model", true, [{ role: "user", content: "hi" }]],
      ],
    );
  } finally {
    floor.child.kill("SIGTERM");
    up.close();
  }
});

it("the Node floor answers 502 when its upstream is gone", async () => {
  const up = await recordingUpstream();
  up.close();
  const floor = await startNodeFloor(up.url);
  try {
    const res = await fetch(`${floor.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"m","messages":[]}' });
    assert.equal(res.status, 502);
  } finally {
    floor.child.kill("SIGTERM");
  }
});

it("writes wrk scripts with a target's own headers, one file per target", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmux-wrk-"));
  try {
    const plain = wrkScript(dir, false);
    const pk = wrkScript(dir, true, "m", portkeyHeaders("http://127.0.0.1:9/"), "portkey-");
    assert.notEqual(plain, pk);
    assert.equal(readFileSync(plain, "utf8"), 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = "{\\"model\\":\\"bench-gateway\\",\\"stream\\":false,\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"Say hello.\\"}]}"\n');
    const text = readFileSync(pk, "utf8");
    assert.match(text, /^wrk\.headers\["x-portkey-provider"\] = "openai"$/m);
    assert.match(text, /^wrk\.headers\["x-portkey-custom-host"\] = "http:\/\/127\.0\.0\.1:9\/v1"$/m);
    assert.match(text, /\\"stream\\":true/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("Portkey is measured only when its path is given, and a start that fails is reported, not waited on", async () => {
  assert.equal(await startPortkey(undefined, "http://127.0.0.1:9"), null);
  const dir = mkdtempSync(join(tmpdir(), "llmux-pk-"));
  try {
    const broken = join(dir, "start-server.js");
    writeFileSync(broken, "process.exit(3);\n");
    await assert.rejects(startPortkey(broken, "http://127.0.0.1:9", 10_000), /Portkey exited with 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
