import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LONG_GENERATION, startTestServer, type TestServer } from "../helpers/server.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Never a label value: prompts and client-typed model names must stay out of the metrics. */
const CANARY = "canary-9d41e7-secret-prompt";
const CHAT = "/v1/chat/completions";

/** One parsed scrape: series (`name{a="x",…}` with labels sorted) → value, plus each family's HELP and TYPE. */
interface Scrape {
  text: string;
  series: Map<string, number>;
  help: Map<string, string>;
  type: Map<string, string>;
}

/** A small parser for the Prometheus text format 0.0.4 (no timestamps, which prom-client never writes). */
function parse(text: string): Scrape {
  const out: Scrape = { text, series: new Map(), help: new Map(), type: new Map() };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === "HELP" ? out.help : out.type).set(meta[2], meta[3]);
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment: ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: [string, string][] = [];
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m[2] ?? "";
    let l: RegExpExecArray | null;
    let consumed = 0;
    while ((l = labelRe.exec(body))) {
      labels.push([l[1], l[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))]);
      consumed = labelRe.lastIndex;
    }
    assert.equal(consumed, body.length, `bad labels: ${line}`);
    // Go's ParseFloat (Prometheus) reads NaN in any case; prom-client writes `Nan` before any sample.
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[3]), `bad value: ${line}`);
    out.series.set(key(m[1], Object.fromEntries(labels)), value);
  }
  return out;
}

function key(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(",")}}`;
}

/** The value of one exact series (0 when absent, as Prometheus treats a counter not yet seen). */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return s.series.get(key(name, labels)) ?? 0;
}

/** The sum over every series of a sample name whose labels include `match`. */
function sum(s: Scrape, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const [k, v] of s.series) {
    if (!k.startsWith(`${name}{`)) continue;
    if (Object.entries(match).every(([lk, lv]) => k.includes(`${lk}=${JSON.stringify(lv)}`))) total += v;
  }
  return total;
}

/** Series of a family (its samples, with `_bucket`/`_sum`/`_count` for histograms) whose value differs between two scrapes. */
function moved(a: Scrape, b: Scrape, family: string): string[] {
  const names = new Set([...a.series.keys(), ...b.series.keys()].filter((k) => k.startsWith(`${family}{`) || /^(.*)_(bucket|sum|count)\{/.exec(k)?.[1] === family));
  return [...names].filter((k) => (a.series.get(k) ?? 0) !== (b.series.get(k) ?? 0));
}

async function scrape(s: TestServer): Promise<Scrape> {
  const res = await s.admin(`/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parse(await res.text());
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A long streamed request; `answering` turns true once its response head has arrived (it got a slot). */
function longStream(s: TestServer, signal: AbortSignal): { done: Promise<unknown>; answering: () => boolean } {
  let answering = false;
  const done = fetch(`${s.url}${CHAT}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: `${CANARY} long` }], ...LONG_GENERATION, stream: true }),
    signal,
  })
    .then(async (res) => {
      answering = true;
      for await (const _chunk of res.body!) {
        // keep reading until aborted
      }
    })
    .catch((e: unknown) => e);
  return { done, answering: () => answering };
}

/** Every metric llmux defines, and which scrape shows it moving: the gauges while requests are in flight. */
const REQUEST_METRICS = [
  "llmux_requests_total",
  "llmux_request_duration_seconds",
  "llmux_time_to_first_token_seconds",
  "llmux_inter_token_latency_seconds",
  "llmux_prompt_tokens_total",
  "llmux_completion_tokens_total",
  "llmux_generation_tokens_per_second",
  "llmux_model_load_duration_seconds",
];
const LIVE_GAUGES = [
  "llmux_requests_in_flight",
  "llmux_engine_queue_depth",
  "llmux_engine_slots_busy",
  "llmux_engine_slots_total",
  "llmux_runner_memory_rss_bytes",
  "llmux_models_loaded",
];
const PROVIDER_METRICS = ["llmux_provider_retries_total", "llmux_provider_breaker_state"];

describe("GET /metrics", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ engine: { parallel: 1, contextSize: 32768 } });
  });
  after(() => s.close());

  it("exposes every metric, and each one moves with real traffic", async () => {
    const t0 = await scrape(s);
    for (const name of [...REQUEST_METRICS, ...LIVE_GAUGES, "llmux_audit_queue_length", ...PROVIDER_METRICS]) {
      assert.ok(t0.help.has(name) && t0.type.has(name), `${name} has HELP and TYPE`);
    }
    // Default process metrics share the registry and the prefix.
    assert.ok(t0.type.has("llmux_process_cpu_user_seconds_total") && t0.type.has("llmux_nodejs_eventloop_lag_seconds"));
    assert.equal(value(t0, "llmux_models_loaded"), 0);

    // A non-streaming chat (it also loads the model) and a streaming one with several tokens.
    const plain = await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: `${CANARY} hi` }], max_tokens: 8, seed: 1 });
    assert.equal(plain.choices.length, 1);
    const stream = await s.openai.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: `${CANARY} count` }],
      max_tokens: 24,
      stream: true,
      stream_options: { include_usage: true },
      seed: 1,
      // A grammar that allows no early end: the stream has at least 16 tokens.
      response_format: { type: "json_schema", json_schema: { name: "s", schema: { type: "object", properties: { a: { type: "string", minLength: 40 } }, required: ["a"] } } },
    });
    let completionTokens = 0;
    for await (const c of stream) completionTokens = c.usage?.completion_tokens ?? completionTokens;
    assert.ok(completionTokens >= 2, `streamed ${completionTokens} tokens`);

    // Errors: a bad body (400) and a model nobody has, whose name must not become a label (404).
    // The audit writer is held meanwhile so the queue gauge shows the rows waiting.
    const writer = s.app.auditWriter;
    const flush = writer.flush.bind(writer);
    writer.flush = () => Promise.resolve();
    let held: Scrape;
    try {
      const bad = await fetch(`${s.url}${CHAT}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: CANARY }) });
      assert.equal(bad.status, 400);
      const missing = await fetch(`${s.url}${CHAT}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: `${CANARY}-model`, messages: [{ role: "user", content: CANARY }] }),
      });
      assert.equal(missing.status, 404);
      await until("audit rows to queue", async () => value(await scrape(s), "llmux_audit_queue_length") >= 2, 5000);
      held = await scrape(s);
    } finally {
      delete (writer as { flush?: unknown }).flush;
      await flush();
    }
    assert.ok(value(held, "llmux_audit_queue_length") >= 2);
    assert.equal(value(await scrape(s), "llmux_audit_queue_length"), 0);

    // A client that goes away mid-stream.
    const ac = new AbortController();
    const res = await fetch(`${s.url}${CHAT}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: `${CANARY} long` }], ...LONG_GENERATION, stream: true }),
      signal: ac.signal,
    });
    let chunks = 0;
    try {
      for await (const _c of res.body!) if (++chunks === 5) ac.abort();
    } catch {
      // the abort error
    }
    await until("the aborted stream to be counted", async () => value(await scrape(s), "llmux_requests_total", { route: CHAT, model: "tiny", backend: "local", status: "cancelled", http_status: "200" }) >= 1);

    // Two long requests on one slot: one generates, one waits in the queue.
    const live = [0, 1].map(() => {
      const c = new AbortController();
      return { c, ...longStream(s, c.signal) };
    });
    let during!: Scrape;
    await until("a busy slot and a queued request", async () => {
      during = await scrape(s);
      return value(during, "llmux_engine_slots_busy", { model: "tiny" }) >= 1 && value(during, "llmux_engine_queue_depth", { model: "tiny" }) >= 1;
    });
    await until("the generating request's answer to begin", async () => live.some((l) => l.answering()));
    // The queued request leaves first: were the generating one cancelled first, the slot it frees
    // could start the queued one (and send it a 200 head) before the server sees that client go too.
    const queued = live.find((l) => !l.answering())!;
    queued.c.abort();
    await until("the queued request to leave the queue", async () => value(await scrape(s), "llmux_engine_queue_depth", { model: "tiny" }) === 0);
    for (const l of live) l.c.abort();
    await Promise.all(live.map((l) => l.done));
    let t1!: Scrape;
    await until("the aborted requests to end", async () => {
      t1 = await scrape(s);
      // The runner frees an aborted sequence a moment after the HTTP request has ended.
      return sum(t1, "llmux_requests_in_flight") === 0 && value(t1, "llmux_engine_queue_depth", { model: "tiny" }) === 0 && value(t1, "llmux_engine_slots_busy", { model: "tiny" }) === 0;
    });

    // The live gauges, while the two long requests ran.
    assert.ok(value(during, "llmux_requests_in_flight", { route: CHAT }) >= 2);
    assert.equal(value(during, "llmux_engine_slots_busy", { model: "tiny" }), 1);
    assert.ok(value(during, "llmux_engine_queue_depth", { model: "tiny" }) >= 1);
    assert.equal(value(during, "llmux_engine_slots_total", { model: "tiny" }), 1);
    assert.ok(value(during, "llmux_runner_memory_rss_bytes", { model: "tiny" }) > 1024 * 1024);
    assert.equal(value(during, "llmux_models_loaded"), 1);
    for (const name of LIVE_GAUGES) assert.ok(moved(t0, during, name).length > 0, `${name} moved while requests ran`);

    // The request metrics, before → after.
    for (const name of REQUEST_METRICS) assert.ok(moved(t0, t1, name).length > 0, `${name} moved`);
    const req = (status: string, http: string, model = "tiny", backend = "local") =>
      value(t1, "llmux_requests_total", { route: CHAT, model, backend, status, http_status: http }) -
      value(t0, "llmux_requests_total", { route: CHAT, model, backend, status, http_status: http });
    assert.equal(req("success", "200"), 2);
    assert.equal(req("error", "400", "", ""), 1);
    assert.equal(req("error", "404", "", ""), 1);
    // The two streams that had begun answering were sent a 200; the one still queued got nothing (499).
    assert.equal(req("cancelled", "200"), 2);
    assert.equal(req("cancelled", "499"), 1);
    const count = (name: string, labels: Record<string, string>) => value(t1, `${name}_count`, labels) - value(t0, `${name}_count`, labels);
    assert.equal(count("llmux_request_duration_seconds", { route: CHAT, status: "success" }), 2);
    assert.equal(count("llmux_request_duration_seconds", { route: CHAT, status: "error" }), 2);
    assert.equal(count("llmux_request_duration_seconds", { route: CHAT, status: "cancelled" }), 3);
    assert.ok(count("llmux_time_to_first_token_seconds", { route: CHAT, model: "tiny" }) >= 3);
    assert.ok(count("llmux_inter_token_latency_seconds", { model: "tiny" }) >= 1);
    assert.ok(count("llmux_generation_tokens_per_second", { model: "tiny" }) >= 1);
    assert.ok(value(t1, "llmux_generation_tokens_per_second_sum", { model: "tiny" }) > 0);
    assert.equal(count("llmux_model_load_duration_seconds", { model: "tiny" }), 1);
    assert.ok(value(t1, "llmux_model_load_duration_seconds_sum", { model: "tiny" }) > 0);
    assert.ok(value(t1, "llmux_prompt_tokens_total", { model: "tiny" }) - value(t0, "llmux_prompt_tokens_total", { model: "tiny" }) > 0);
    assert.ok(value(t1, "llmux_completion_tokens_total", { model: "tiny" }) - value(t0, "llmux_completion_tokens_total", { model: "tiny" }) >= completionTokens);
    assert.equal(value(t1, "llmux_engine_slots_busy", { model: "tiny" }), 0);

    // No provider is configured here: declared, with no series.
    for (const t of [t0, during, t1]) {
      for (const name of PROVIDER_METRICS) {
        assert.ok(t.help.has(name), `${name} is declared`);
        assert.equal(sum(t, name), 0);
        assert.ok(![...t.series.keys()].some((k) => k.startsWith(`${name}{`)), `${name} has no series`);
      }
      assert.ok(!t.text.includes(CANARY), "no prompt text or client-typed model name in the metrics");
    }
  });
});
