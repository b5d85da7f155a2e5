import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as undici from "undici";
import { Pool, undiciErrors } from "../../src/routing/undici-parts.js";

// The gateway requires undici's files by path (src/routing/undici-parts.ts): a new undici that
// moved them, or that exported other classes from its index, must fail here, not in production.
describe("the parts of undici the gateway loads by path", () => {
  it("are the very Pool and error classes undici exports", () => {
    assert.equal(Pool, undici.Pool);
    assert.equal(undiciErrors, undici.errors);
    assert.equal(undiciErrors.HeadersTimeoutError, undici.errors.HeadersTimeoutError);
  });
});
