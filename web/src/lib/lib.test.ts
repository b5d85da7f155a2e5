import { describe, expect, it } from "vitest";
import { render } from "svelte/server";
import { matchesFilter } from "./audit-filter";
import { answerStats, buildChatBody } from "./chat";
import ProgressBar from "./components/ProgressBar.svelte";
import { formatBytes, formatSeconds, parseDuration } from "./format";
import { markdownToHtml } from "./markdown";
import { moveItem } from "./reorder";
import { bucketRows } from "./timeseries";
import { query, requestHeaders } from "./api";

describe("api conventions", () => {
  it("sends the CSRF header on state-changing methods only", () => {
    expect(requestHeaders("POST", true)).toEqual({ "content-type": "application/json", "x-llmux-csrf": "1" });
    expect(requestHeaders("delete", false)).toEqual({ "x-llmux-csrf": "1" });
    expect(requestHeaders("GET", false)).toEqual({});
  });
  it("builds query strings from set values", () => {
    expect(query({ a: "x y", b: undefined, c: "", d: 0 })).toBe("?a=x+y&d=0");
    expect(query({})).toBe("");
  });
});

describe("durations and sizes in human units", () => {
  it("formats and parses timeouts", () => {
    expect(formatSeconds(900)).toBe("15 min");
    expect(formatSeconds(5400)).toBe("1 h 30 min");
    expect(formatSeconds(45)).toBe("45 s");
    for (const [text, s] of [["90", 90], ["90s", 90], ["15 min", 900], ["1h30m", 5400], ["1 h 30 min", 5400], ["2 hours", 7200]] as const) expect(parseDuration(text)).toBe(s);
    for (const bad of ["", "soon", "10 parsecs", "5 min later"]) expect(parseDuration(bad)).toBeUndefined();
    for (const s of [1, 59, 60, 61, 3599, 3600, 7200]) expect(parseDuration(formatSeconds(s))).toBe(s);
  });
  it("formats bytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(8 * 1024 ** 3)).toBe("8.0 GB");
  });
});

describe("chat requests", () => {
  it("puts the system prompt where each protocol wants it", () => {
    const msgs = [{ role: "user" as const, content: "hi" }];
    const o = buildChatBody("openai", "m", "be brief", msgs, { temperature: 0.2 });
    expect(o).toMatchObject({ model: "m", stream: true, temperature: 0.2, stream_options: { include_usage: true } });
    expect(o.messages).toEqual([{ role: "system", content: "be brief" }, ...msgs]);
    const a = buildChatBody("anthropic", "m", "be brief", msgs, {});
    expect(a).toMatchObject({ system: "be brief", messages: msgs, max_tokens: 1024 });
    expect(buildChatBody("anthropic", "m", "  ", msgs, {})).not.toHaveProperty("system");
  });
  it("computes TTFT and decode speed", () => {
    expect(answerStats(0, 200, 1200, 11)).toEqual({ ttft_ms: 200, tokens_per_s: 10, completion_tokens: 11 });
    expect(answerStats(0, undefined, 1000, undefined)).toEqual({ completion_tokens: undefined });
  });
});

describe("markdown", () => {
  // Sanitizing needs a DOM (DOMPurify): the browser test covers it; here the rendering and highlighting.
  it("renders markdown and highlights known languages, escaping unknown ones", () => {
    const html = markdownToHtml("**hi**\n\n```js\nconst a = 1;\n```\n\n```nolang\n<b>x</b>\n```");
    expect(html).toContain("<strong>hi</strong>");
    expect(html).toContain('class="hljs-keyword"');
    expect(html).toContain("&#60;b&#62;x&#60;/b&#62;");
  });
});

describe("small helpers", () => {
  it("moves list items", () => {
    expect(moveItem([1, 2, 3], 0, 2)).toEqual([2, 3, 1]);
    expect(moveItem([1, 2, 3], 2, 0)).toEqual([3, 1, 2]);
    expect(moveItem([1, 2, 3], 5, 0)).toEqual([1, 2, 3]);
  });
  it("buckets audit rows into per-second rates", () => {
    const now = 60_000;
    const s = bucketRows([{ ts: 1000, completion_tokens: 30, ttft_ms: 100 }, { ts: 2000, completion_tokens: 30, ttft_ms: 300 }, { ts: 59_000, completion_tokens: null, ttft_ms: null }], now, 60_000, 2);
    expect(s.rps).toEqual([2 / 30, 1 / 30]);
    expect(s.tps).toEqual([2, 0]);
    expect(s.ttft).toEqual([200, 0]);
  });
  it("filters live audit rows like the server", () => {
    const r = { model_requested: "tiny", model_served: "tiny", backend: "local", status: "success", route: "/v1/messages", ts: 5 } as never;
    const empty = { model: "", backend: "", status: "", route: "", from: "", to: "" };
    expect(matchesFilter(r, empty)).toBe(true);
    expect(matchesFilter(r, { ...empty, status: "error" })).toBe(false);
    expect(matchesFilter(r, { ...empty, model: "tiny", route: "/v1/messages" })).toBe(true);
  });
});

describe("ProgressBar component", () => {
  it("renders its value for assistive technology and the eye", () => {
    const { body } = render(ProgressBar, { props: { value: 42, label: "download" } });
    expect(body).toContain('aria-valuenow="42"');
    expect(body).toContain("42%");
    expect(body).toMatch(/width:\s*42%/);
  });
});
