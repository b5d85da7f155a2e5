import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import WebSocket from "ws";
import { LONG_GENERATION, signIn, startTestServer, type TestServer } from "../helpers/server.js";

interface Row {
  id: number;
  request_id: string;
  route: string;
  status: string;
  http_status: number;
  stream: number;
  model_requested: string | null;
  model_served: string | null;
  backend: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  duration_ms: number;
  ttft_ms: number | null;
  error_type: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the audit row of a request (rows are written in batches every 50 ms). */
async function rowFor(s: TestServer, requestId: string): Promise<Row> {
  for (let i = 0; i < 100; i++) {
    const res = await s.admin(`/admin/audit?request_id=${encodeURIComponent(requestId)}`);
    const { items } = (await res.json()) as { items: Row[] };
    if (items.length > 0) return items[0];
    await sleep(20);
  }
  throw new Error(`no audit row for ${requestId}`);
}

async function setTimeouts(s: TestServer, timeouts: Record<string, unknown>): Promise<Response> {
  return s.admin(`/admin/timeouts`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ timeouts }) });
}

describe("audit log, timeouts and the request lifecycle", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ engine: { parallel: 1, contextSize: 32768 } });
  });
  after(() => s.close());

  it("writes one row per request when it really ends, with the stream's token counts", async () => {
    const { data, response } = await s.openai.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: "hello" }], max_tokens: 12, stream: true, stream_options: { include_usage: true }, seed: 1 })
      .withResponse();
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of data) usage = c.usage ?? usage;
    const row = await rowFor(s, response.headers.get("x-request-id")!);
    assert.equal(row.status, "success");
    assert.equal(row.http_status, 200);
    assert.equal(row.stream, 1);
    assert.equal(row.route, "/v1/chat/completions");
    assert.equal(row.model_requested, "tiny");
    assert.equal(row.model_served, "tiny");
    assert.equal(row.backend, "local");
    assert.equal(row.prompt_tokens, usage!.prompt_tokens);
    assert.equal(row.completion_tokens, usage!.completion_tokens);
    assert.equal(row.total_tokens, usage!.total_tokens);
    assert.ok(row.duration_ms > 0 && row.ttft_ms !== null && row.ttft_ms <= row.duration_ms);
  });

  it("records a client that goes away mid-stream as cancelled", async () => {
    const ac = new AbortController();
    const { data, response } = await s.openai.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: "long" }], ...LONG_GENERATION, stream: true }, { signal: ac.signal })
      .withResponse();
    let n = 0;
    try {
      for await (const _c of data) if (++n === 5) ac.abort();
    } catch {
      // the SDK may raise its abort error
    }
    const row = await rowFor(s, response.headers.get("x-request-id")!);
    assert.equal(row.status, "cancelled");
    assert.equal(row.error_type, "cancelled");
  });

  it("records a client that goes away before any answer as cancelled with HTTP 499, not the 200 it never got", async () => {
    const id = "client-gone-before-answer-1";
    const ac = new AbortController();
    const pending = fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": id },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "long" }], ...LONG_GENERATION }),
      signal: ac.signal,
    }).catch(() => undefined);
    await sleep(300);
    ac.abort();
    await pending;
    const row = await rowFor(s, id);
    assert.equal(row.status, "cancelled");
    assert.equal(row.http_status, 499);
    // Its generation was cancelled too: the slot is free for the tests after this one.
    const runner = s.app.pool.list()[0]!.runner;
    let busy = (await runner.stats()).busySlots;
    for (let i = 0; i < 100 && busy > 0; i++) {
      await sleep(20);
      busy = (await runner.stats()).busySlots;
    }
    assert.equal(busy, 0);
  });

  it("a bad request is counted too, as an error with its code", async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": "bad-1" }, body: "{}" });
    assert.equal(res.status, 400);
    const row = await rowFor(s, "bad-1");
    assert.equal(row.status, "error");
    assert.equal(row.http_status, 400);
    assert.equal(row.error_type, "validation_failed");
  });

  it("timeouts are read and changed at run time, bounded, and apply to the next request", async () => {
    const got = (await (await s.admin(`/admin/timeouts`)).json()) as { timeouts: Record<string, number> };
    assert.deepEqual(got.timeouts, { chat: 900, messages: 900, completions: 600, embeddings: 120 });
    for (const bad of [{ chat: 0 }, { chat: 7201 }, { chat: "fast" }, { nope: 5 }]) {
      const res = await setTimeouts(s, bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(((await res.json()) as { code: string }).code, "validation_failed");
    }
    // The model is loaded first: a cold load must not eat the 1 s budget.
    await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "warm" }], max_tokens: 1 });
    assert.equal((await setTimeouts(s, { chat: 1 })).status, 200);
    try {
      await timedOutRequests(s);
    } finally {
      assert.equal((await setTimeouts(s, { chat: 900 })).status, 200);
    }
    const ok = await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "quick" }], max_tokens: 4 });
    assert.equal(ok.choices.length, 1);
  });

  async function timedOutRequests(s: TestServer): Promise<void> {
    // Streaming: an in-band timeout error, then the stream ends.
    const runner = () => s.app.pool.list()[0].runner;
    const { data, response } = await s.openai.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: "forever" }], ...LONG_GENERATION, stream: true })
      .withResponse();
    const err = await (async () => {
      for await (const _c of data) {
        // keep reading until the server gives up
      }
    })().catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(err.message, /longer than 1s/);
    const row = await rowFor(s, response.headers.get("x-request-id")!);
    assert.equal(row.status, "timeout");
    assert.equal(row.error_type, "timeout");
    assert.ok(row.duration_ms >= 1000 && row.duration_ms < 5000);
    // The engine slot was freed: the next request is served at once.
    let stats = await runner().stats();
    for (let i = 0; i < 50 && stats.busySlots > 0; i++) {
      await sleep(20);
      stats = await runner().stats();
    }
    assert.equal(stats.busySlots, 0);

    // Non-streaming: a 504 problem of type timeout with timeout_seconds.
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "forever" }], ...LONG_GENERATION }),
    });
    assert.equal(res.status, 504);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.type, "urn:llmux:problem:timeout");
    assert.equal(body.timeout_seconds, 1);
    assert.equal((body.error as { type: string }).type, "timeout_error");
  }

  it("lists with filters and keyset pagination, sums stats, exports JSONL and CSV", async () => {
    for (let i = 0; i < 5; i++) await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: `n${i}` }], max_tokens: 2 });
    await sleep(150);
    const page1 = (await (await s.admin(`/admin/audit?limit=3&status=success`)).json()) as { items: Row[]; next_before: number };
    assert.equal(page1.items.length, 3);
    assert.ok(page1.items.every((r) => r.status === "success"));
    assert.ok(page1.items[0].id > page1.items[1].id, "newest first");
    const page2 = (await (await s.admin(`/admin/audit?limit=3&status=success&before=${page1.next_before}`)).json()) as { items: Row[] };
    assert.ok(page2.items.length > 0 && page2.items.every((r) => r.id < page1.next_before));

    const stats = (await (await s.admin(`/admin/audit/stats`)).json()) as { total: number; byStatus: Record<string, number>; latencyMs: { p50: number }; tokens: { total: number } };
    assert.ok(stats.total >= 9);
    assert.ok(stats.byStatus.success >= 6 && stats.byStatus.timeout === 2 && stats.byStatus.cancelled === 2 && stats.byStatus.error === 1);
    assert.ok(stats.latencyMs.p50 > 0 && stats.tokens.total > 0);

    const jsonl = await (await s.admin(`/admin/audit/export?format=jsonl`)).text();
    const rows = jsonl.trim().split("\n").map((l) => JSON.parse(l) as Row);
    assert.equal(rows.length, stats.total);
    const csvRes = await s.admin(`/admin/audit/export?format=csv`);
    assert.match(csvRes.headers.get("content-type")!, /text\/csv/);
    const csv = (await csvRes.text()).trim().split("\n");
    assert.equal(csv.length, stats.total + 1);
    assert.match(csv[0], /^id,request_id,ts,route/);

    const bad = await s.admin(`/admin/audit?status=weird&limit=9999`);
    assert.equal(bad.status, 400);
    const problem = (await bad.json()) as { errors: { field: string }[] };
    assert.deepEqual(problem.errors.map((e) => e.field).sort(), ["limit", "status"]);
  });

  it("pushes new rows to the live WebSocket feed", async () => {
    const ws = new WebSocket(`${s.url.replace("http", "ws")}/admin/audit/live`, { headers: s.adminHeaders() });
    const messages: { type: string; row?: Row }[] = [];
    ws.on("message", (m) => messages.push(JSON.parse(String(m))));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const { response } = await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "live" }], max_tokens: 2 }).withResponse();
    const id = response.headers.get("x-request-id");
    for (let i = 0; i < 100 && !messages.some((m) => m.row?.request_id === id); i++) await sleep(20);
    ws.close();
    assert.ok(messages.some((m) => m.type === "audit_row" && m.row?.request_id === id));
  });

  it("a client frame over the live feed's 64 KiB limit closes the socket (1009) with one warning, not an error-level stack", async () => {
    const ws = new WebSocket(`${s.url.replace("http", "ws")}/admin/audit/live`, { headers: s.adminHeaders() });
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    ws.send("x".repeat(70 * 1024));
    assert.equal(await closed, 1009);
    for (let i = 0; i < 50 && !s.log().includes("WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"); i++) await sleep(20);
    const lines = s.log().split("\n").filter((l) => l.includes("WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"));
    assert.equal(lines.length, 1, s.log().slice(-2000));
    assert.match(lines[0]!, /"level":40/);
    assert.doesNotMatch(lines[0]!, /"stack"/);
  });

  it("ends the live feed of an admin who signs out or loses the role, and sends them no row after", async () => {
    const json = { "content-type": "application/json", "x-llmux-csrf": "1" };
    // A second admin: registered (pending), then approved and promoted by the first.
    const second = { email: "second-admin@llmux.test", password: "second-password-1" };
    await fetch(`${s.url}/api/auth/register`, { method: "POST", headers: json, body: JSON.stringify(second) });
    const { users } = (await (await s.admin("/admin/users")).json()) as { users: { id: string; email: string }[] };
    const secondId = users.find((u) => u.email === second.email)!.id;
    const promote = await s.admin(`/admin/users/${secondId}`, { method: "PATCH", headers: json, body: JSON.stringify({ role: "admin", status: "approved" }) });
    assert.equal(promote.status, 200);

    const feed = async (cookie: string) => {
      const ws = new WebSocket(`${s.url.replace("http", "ws")}/admin/audit/live`, { headers: { cookie } });
      const rows: string[] = [];
      ws.on("message", (m) => {
        const msg = JSON.parse(String(m)) as { type: string; row?: Row };
        if (msg.row) rows.push(msg.row.request_id);
      });
      const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
      await new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      return { ws, rows, closed };
    };
    const request = async () => (await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 1 }).withResponse()).response.headers.get("x-request-id")!;

    for (const revoke of ["sign-out", "demotion"] as const) {
      const cookie = await signIn(s.url, second);
      const { ws, rows, closed } = await feed(cookie);
      const seen = await request();
      for (let i = 0; i < 100 && !rows.includes(seen); i++) await sleep(20);
      assert.ok(rows.includes(seen), `${revoke}: the feed works while access holds`);
      if (revoke === "sign-out") assert.equal((await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { cookie, "x-llmux-csrf": "1" } })).status, 204);
      else assert.equal((await s.admin(`/admin/users/${secondId}`, { method: "PATCH", headers: json, body: JSON.stringify({ role: "user" }) })).status, 200);
      await sleep(1100); // past the feed's recheck age
      const unseen = await request();
      const code = await Promise.race([closed, sleep(3000).then(() => -1)]);
      assert.equal(code, 1008, `${revoke}: the feed is closed as a policy violation`);
      assert.ok(!rows.includes(unseen), `${revoke}: no row after access ended`);
      ws.terminate();
    }
  });
});
