import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { SeriesCounter, SeriesHistogram } from "../../src/observability/series.js";

const BUCKETS = [0.01, 0.1, 1, 10];
/** Observations on every side of every bound, the bounds themselves included (`le` is inclusive). */
const VALUES = [0, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50, 1e6];

describe("series metrics", () => {
  it("render exactly what prom-client's own counter and histogram render for the same updates", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const def = { name: "t_requests_total", help: "Requests.", labelNames: ["route", "status"] as const };
    const hdef = { name: "t_duration_seconds", help: "Duration.", labelNames: ["route", "status"] as const, buckets: BUCKETS };
    const c1 = new SeriesCounter(def, ours);
    const h1 = new SeriesHistogram(hdef, ours);
    const c2 = new Counter({ ...def, labelNames: [...def.labelNames], registers: [theirs] });
    const h2 = new Histogram({ ...hdef, labelNames: [...hdef.labelNames], registers: [theirs] });
    const labelSets = [
      { route: "chat", status: "success" },
      { route: "chat", status: "error" },
      { route: 'we"ird\\route\n', status: "success" },
    ];
    VALUES.forEach((v, i) => {
      const labels = labelSets[i % labelSets.length]!;
      c1.inc(labels);
      c2.inc(labels);
      c1.inc(labels, 2.5);
      c2.inc(labels, 2.5);
      h1.observe(labels, v);
      h2.observe(labels, v);
      // The same observation again through a series handle, as the token gaps are recorded.
      h1.labels(labels).observe(v);
      h2.labels(labels).observe(v);
    });
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  });

  it("keep a series per set of label values, whatever the values hold", async () => {
    const r = new Registry();
    const c = new SeriesCounter({ name: "t_total", help: "T.", labelNames: ["a", "b"] }, r);
    const labels = { a: "x", b: "y" };
    c.inc(labels);
    labels.a = "changed"; // the caller's object is not kept
    c.inc(labels);
    c.inc({ a: "x", b: "y" });
    // Values that would run together if the key only joined them.
    c.inc({ a: "x1:", b: "" });
    c.inc({ a: "", b: "1:x1:y" });
    const text = await r.metrics();
    assert.match(text, /^t_total\{a="x",b="y"\} 2$/m);
    assert.match(text, /^t_total\{a="changed",b="y"\} 1$/m);
    assert.equal(text.match(/^t_total\{/gm)?.length, 4);
  });

  it("refuse what prom-client refuses, and forget every series on reset", async () => {
    const r = new Registry();
    const c = new SeriesCounter({ name: "t_total", help: "T.", labelNames: ["a"] }, r);
    const h = new SeriesHistogram({ name: "t_seconds", help: "T.", labelNames: ["a"], buckets: BUCKETS }, r);
    assert.throws(() => c.inc({ a: "x" }, -1), RangeError);
    assert.throws(() => c.inc({ a: "x" }, Number.NaN), RangeError);
    assert.throws(() => h.observe({ a: "x" }, Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => h.labels({ a: "x" }).observe(Number.NaN), RangeError);
    h.observe({ a: "x" }, 1);
    r.resetMetrics();
    assert.doesNotMatch(await r.metrics(), /t_seconds_count/);
    // The series used last is forgotten too: the same values start a new one.
    h.observe({ a: "x" }, 1);
    assert.match(await r.metrics(), /^t_seconds_count\{a="x"\} 1$/m);
  });
});
