import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AccessWatch } from "../../src/auth/access-watch.js";
import type { Principal } from "../../src/auth/auth-service.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const principal = { user: { id: "u1", role: "admin", status: "approved" }, sessionId: "s1" } as unknown as Principal;

describe("AccessWatch (long-lived connections re-check who holds them)", () => {
  it("answers from its last check while fresh, asks again once stale, and revokes once", async () => {
    let holds = true;
    let asked = 0;
    let revoked = 0;
    const watch = new AccessWatch({ stillHolds: async () => (asked++, holds) }, principal, true, () => revoked++, { maxAgeMs: 50, everyMs: 60_000 });
    assert.equal(await watch.fresh(), true);
    assert.equal(asked, 0, "fresh right after the handshake's own check");
    await sleep(70);
    assert.equal(await watch.fresh(), true);
    assert.equal(asked, 1);
    holds = false;
    assert.equal(await watch.fresh(), true, "still within maxAgeMs of the last answer");
    await sleep(70);
    assert.equal(await watch.fresh(), false);
    assert.equal(await watch.fresh(), false, "revoked for good");
    assert.equal(revoked, 1);
    watch.stop();
  });

  it("its timer ends an idle connection; a failing lookup counts as revoked; no principal never holds", async () => {
    let revoked = 0;
    const idle = new AccessWatch({ stillHolds: async () => false }, principal, true, () => revoked++, { maxAgeMs: 1000, everyMs: 20 });
    await sleep(80);
    assert.equal(revoked, 1, "the timer asked and revoked, once");
    idle.stop();
    const failing = new AccessWatch({ stillHolds: () => Promise.reject(new Error("db gone")) }, principal, true, () => revoked++, { maxAgeMs: 0, everyMs: 60_000 });
    await sleep(5);
    assert.equal(await failing.fresh(), false);
    const nobody = new AccessWatch({ stillHolds: async () => true }, undefined, true, () => revoked++, { maxAgeMs: 0, everyMs: 60_000 });
    await sleep(5);
    assert.equal(await nobody.fresh(), false);
    assert.equal(revoked, 3);
  });
});
