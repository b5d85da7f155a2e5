import assert from "node:assert/strict";
import { request as httpRequest, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { it } from "node:test";
import { findWrk, parseWrk, runGatewayBench } from "../../src/bench/gateway.js";
import { GATEWAY_BENCH_MODEL } from "../../src/bench/gateway-mock.js";
import { formatSuite } from "../../src/bench/report.js";
import { gatewaySection } from "../../src/bench/suite.js";
import { silentProgress } from "../../src/bench/progress.js";
import type { SuiteResult } from "../../src/bench/types.js";

/**
 * A fake "llmux": forwards every request to the upstream after `delayMs` (before anything is
 * sent on), so what it adds is known: ~delayMs to the whole response and to the first byte.
 */
async function delayingProxy(delayMs: number): Promise<{ route: (mockUrl: string) => Promise<{ url: string; model: string }>; seen: () => string | null; close(): void }> {
  let upstream: string | null = null;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    // When a load tool stops (wrk drops its connections) or the mock is killed, a request in
    // flight ends with ECONNRESET on one side or the other; unhandled, that would throw after
    // the test ended. Each side's error ends the other side.
    req.on("error", () => {});
    req.on("end", () =>
      setTimeout(() => {
        const u = new URL(req.url!, upstream!);
        const out = httpRequest(u, { method: req.method, headers: { "content-type": "application/json" } }, (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.on("error", () => res.destroy());
          up.pipe(res);
        });
        out.on("error", () => res.destroy());
        res.on("error", () => out.destroy());
        out.end(Buffer.concat(chunks));
      }, delayMs),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    route: async (mockUrl) => {
      upstream = mockUrl;
      return { url, model: GATEWAY_BENCH_MODEL };
    },
    seen: () => upstream,
    close: () => server.close(),
  };
}

it("measures direct and through-the-gateway at each mode and level, and the latency added (known delay, node client)", async () => {
  const proxy = await delayingProxy(30);
  try {
    const g = await runGatewayBench({ route: proxy.route, concurrency: [1, 2], plan: { requests: 12 }, tool: "node", warmup: 1 });
    assert.match(proxy.seen() ?? "", /^http:\/\/127\.0\.0\.1:\d+$/, "the route callback got the mock's URL");
    assert.equal(g.tool, "node");
    assert.deepEqual(g.rows.map((r) => [r.stream, r.concurrency]), [[false, 1], [false, 2], [true, 1], [true, 2]]);
    for (const r of g.rows) {
      for (const m of [r.direct, r.llmux]) {
        assert.equal(m.errors, 0);
        assert.ok(m.requestsPerS > 0);
      }
      // The mock answers in well under a millisecond; the fake gateway waits 30 ms first.
      assert.ok(r.direct.p50Ms < 25, `direct p50 ${r.direct.p50Ms}`);
      assert.ok(r.addedP50Ms > 20 && r.addedP50Ms < 250, `added p50 ${r.addedP50Ms}`);
      if (r.stream) assert.ok(r.addedTtftP50Ms! > 20 && r.addedTtftP50Ms! < 250, `added ttft ${r.addedTtftP50Ms}`);
      else assert.equal(r.addedTtftP50Ms, null);
      assert.ok(r.direct.requestsPerS > r.llmux.requestsPerS);
    }
  } finally {
    proxy.close();
  }
});

it("the suite's gateway section reports both sides in its table; without a server to configure it is skipped", async () => {
  const proxy = await delayingProxy(0);
  try {
    const base = { url: "", model: "m", protocol: "openai" as const, concurrency: [1], warmup: 0, timeoutMs: 5000, progress: silentProgress };
    const skipped = await gatewaySection.run(base);
    assert.equal(skipped.status, "skipped");
    const section = await gatewaySection.run({ ...base, plan: { requests: 5 }, gateway: proxy.route, gatewayTool: "node" });
    assert.ok(section.status === "ok" && section.gateway);
    assert.equal(section.gateway.rows.length, 2);
    const suite = { server: { inProcess: false, url: "x", model: "m" }, environment: { cpus: 2, cpuModel: "cpu", node: "v20" }, sections: [section] } as unknown as SuiteResult;
    const text = formatSuite(suite);
    assert.match(text, /\| +mode \| +conc \| +direct req\/s \| +llmux req\/s \|/);
    assert.match(text, /\| +json \| +1 \|/);
    assert.match(text, /\| +stream \| +1 \|/);
    assert.match(text, /load: the bench's node client/);
  } finally {
    proxy.close();
  }
});

it("reads wrk's report", () => {
  const out = `Running 1s test @ http://127.0.0.1:1/v1/chat/completions
  1 threads and 2 connections
  Latency Distribution
     50%  412.00us
     75%  600.00us
     90%    1.20ms
     99%    3.50ms
  1000 requests in 1.00s, 1.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   1234.56
`;
  const r = parseWrk(out);
  assert.deepEqual({ ...r, p50Ms: Math.round(r.p50Ms * 1000) / 1000 }, { requestsPerS: 1234.56, p50Ms: 0.412, p99Ms: 3.5, errors: 7 });
});

it("loads with wrk when it is installed", { skip: findWrk() ? false : "wrk is not installed here" }, async () => {
  const proxy = await delayingProxy(0);
  try {
    const g = await runGatewayBench({ route: proxy.route, concurrency: [2], plan: { durationS: 1 }, tool: "wrk", warmup: 1 });
    assert.equal(g.tool, "wrk");
    assert.equal(g.rows.length, 2);
    for (const r of g.rows) for (const m of [r.direct, r.llmux]) assert.ok(m.requestsPerS > 0 && m.errors === 0 && m.tool === "wrk");
  } finally {
    proxy.close();
  }
});
