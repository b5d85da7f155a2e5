import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { loadSecretBox } from "../../src/security/secret-box.js";
import { openDatabase, type Db } from "../../src/store/db.js";
import { ProvidersRepository, type ProviderInput } from "../../src/store/providers-repo.js";

const KEY = "sk-live-NEVER-IN-CLEAR-abcdef0123456789";
const KEY2 = "sk-ant-ROTATED-KEY-zyxwvut9876543210";

let home: string;
let dbFile: string;
let db: Db;
let repo: ProvidersRepository;

const base: ProviderInput = {
  name: "openai-main",
  kind: "openai",
  baseUrl: "https://api.openai.com/v1",
  apiKey: KEY,
  headers: { "OpenAI-Organization": "org-1" },
  timeoutMs: 30_000,
  models: ["gpt-4o", "gpt-4o-mini"],
};

/** Asserts `fn` rejects with validation_failed listing `field`. */
async function rejectsField(fn: () => Promise<unknown>, field: string): Promise<LlmuxError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof LlmuxError, `expected LlmuxError for ${field}, got ${String(caught)}`);
  assert.equal(caught.code, "validation_failed");
  assert.equal(caught.status, 400);
  assert.ok(caught.fieldErrors?.some((f) => f.field === field), `fieldErrors ${JSON.stringify(caught.fieldErrors)} lack ${field}`);
  return caught;
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), "llmux-providers-"));
  dbFile = join(home, "llmux.db");
  db = await openDatabase(dbFile);
  repo = new ProvidersRepository(db, loadSecretBox(home, {}));
});
after(async () => {
  await db.destroy();
  rmSync(home, { recursive: true, force: true });
});

describe("ProvidersRepository", () => {
  it("round-trips a provider and returns it without its key", async () => {
    const created = await repo.create(base);
    assert.equal(created.hasApiKey, true);
    assert.ok(!("apiKey" in created));
    const got = await repo.get("openai-main");
    assert.deepEqual(got, created);
    assert.equal(got?.kind, "openai");
    assert.equal(got?.baseUrl, "https://api.openai.com/v1");
    assert.deepEqual(got?.headers, { "OpenAI-Organization": "org-1" });
    assert.equal(got?.timeoutMs, 30_000);
    assert.deepEqual(got?.models, ["gpt-4o", "gpt-4o-mini"]);

    const secret = await repo.getWithSecret("openai-main");
    assert.equal(secret?.apiKey, KEY);
    assert.equal(secret?.timeoutMs, 30_000);

    await repo.create({ name: "box-local", kind: "openai-compatible", baseUrl: "http://127.0.0.1:8080" });
    const local = await repo.get("box-local");
    assert.equal(local?.hasApiKey, false);
    assert.equal(local?.timeoutMs, 600_000);
    assert.equal(local?.models, null);
    assert.equal((await repo.getWithSecret("box-local"))?.apiKey, undefined);

    const listed = await repo.list();
    assert.deepEqual(listed.map((p) => p.name), ["box-local", "openai-main"]);
    assert.ok(!JSON.stringify(listed).includes(KEY));
    assert.ok(!JSON.stringify(got).includes(KEY));
    assert.equal(await repo.get("missing"), undefined);
    assert.equal(await repo.getWithSecret("missing"), undefined);
  });

  it("never writes the key in clear to the database file or WAL", async () => {
    const bytes = Buffer.concat([dbFile, `${dbFile}-wal`].filter(existsSync).map((f) => readFileSync(f)));
    assert.ok(bytes.length > 0);
    assert.ok(bytes.includes(Buffer.from("openai-main")), "sanity: the row is in the files read");
    assert.equal(bytes.includes(Buffer.from(KEY)), false);
    assert.equal(bytes.includes(Buffer.from(KEY, "utf16le")), false);
    const row = await db.selectFrom("providers").select("api_key_sealed").where("name", "=", "openai-main").executeTakeFirstOrThrow();
    assert.match(row.api_key_sealed ?? "", /^v1:/);
  });

  it("updates fields, rotates and removes the key", async () => {
    const before = await repo.get("openai-main");
    const updated = await repo.update("openai-main", { timeoutMs: 60_000, apiKey: KEY2, models: null });
    assert.equal(updated?.timeoutMs, 60_000);
    assert.equal(updated?.models, null);
    assert.equal(updated?.createdAt, before?.createdAt);
    assert.equal((await repo.getWithSecret("openai-main"))?.apiKey, KEY2);
    await repo.update("openai-main", { baseUrl: "https://example.test" });
    assert.equal((await repo.getWithSecret("openai-main"))?.apiKey, KEY2, "absent apiKey keeps the key");
    const cleared = await repo.update("openai-main", { apiKey: null });
    assert.equal(cleared?.hasApiKey, false);
    assert.equal((await repo.getWithSecret("openai-main"))?.apiKey, undefined);
    await repo.update("openai-main", { apiKey: KEY });
    assert.equal(await repo.update("missing", { timeoutMs: 5_000 }), undefined);
  });

  it("a tampered sealed key fails to open with an internal error that holds no key", async () => {
    const row = await db.selectFrom("providers").select("api_key_sealed").where("name", "=", "openai-main").executeTakeFirstOrThrow();
    const [v, iv, tag, ct] = (row.api_key_sealed as string).split(":") as [string, string, string, string];
    const ctBytes = Buffer.from(ct, "base64");
    ctBytes[1] = (ctBytes[1] as number) ^ 0xff;
    await db.updateTable("providers").set({ api_key_sealed: [v, iv, tag, ctBytes.toString("base64")].join(":") }).where("name", "=", "openai-main").execute();
    await assert.rejects(repo.getWithSecret("openai-main"), (err: unknown) => {
      assert.ok(err instanceof LlmuxError);
      assert.equal(err.code, "internal");
      assert.match(err.detail, /openai-main.*cannot be decrypted.*wrong key.*tampered/);
      assert.ok(!err.detail.includes(KEY));
      return true;
    });
    // A sealed key moved to another row does not open there either (bound to the row id).
    await repo.update("openai-main", { apiKey: KEY });
    await repo.update("box-local", { apiKey: KEY2 });
    const good = await db.selectFrom("providers").select("api_key_sealed").where("name", "=", "openai-main").executeTakeFirstOrThrow();
    await db.updateTable("providers").set({ api_key_sealed: good.api_key_sealed }).where("name", "=", "box-local").execute();
    await assert.rejects(repo.getWithSecret("box-local"), /cannot be decrypted/);
    await repo.update("box-local", { apiKey: null });
  });

  it("a different LLMUX_SECRET cannot open keys sealed under the key file", async () => {
    const other = new ProvidersRepository(db, loadSecretBox(home, { LLMUX_SECRET: "a-different-secret" }));
    assert.equal((await other.get("openai-main"))?.hasApiKey, true, "records still read without the key");
    await assert.rejects(other.getWithSecret("openai-main"), (err: unknown) => {
      assert.ok(err instanceof LlmuxError);
      assert.match(err.detail, /LLMUX_SECRET or secret.key changed/);
      return true;
    });
    assert.equal((await repo.getWithSecret("openai-main"))?.apiKey, KEY, "the key file still opens it");
  });

  it("rejects a duplicate name as validation_failed on 'name'", async () => {
    const err = await rejectsField(() => repo.create({ ...base, apiKey: undefined }), "name");
    assert.equal(err.param, "name");
    assert.match(err.detail, /already exists/);
  });

  it("validates every field, naming each and never echoing the key", async () => {
    const cases: Array<[Partial<ProviderInput> & Record<string, unknown>, string]> = [
      [{ name: "Bad Name" }, "name"],
      [{ name: "-leading" }, "name"],
      [{ name: "a".repeat(65) }, "name"],
      [{ kind: "gemini" as never }, "kind"],
      [{ baseUrl: "ftp://example.com" }, "baseUrl"],
      [{ baseUrl: "not a url" }, "baseUrl"],
      [{ baseUrl: "https://user:pw@example.com" }, "baseUrl"],
      [{ timeoutMs: 999 }, "timeoutMs"],
      [{ timeoutMs: 3_600_001 }, "timeoutMs"],
      [{ timeoutMs: 1.5e3 + 0.5 }, "timeoutMs"],
      [{ headers: { Authorization: "Bearer x" } }, "headers.Authorization"],
      [{ headers: { "X-Api-Key": "x" } }, "headers.X-Api-Key"],
      [{ headers: { ok: 5 as unknown as string } }, "headers.ok"],
      [{ headers: { "bad name": "v" } }, "headers.bad name"],
      [{ headers: ["a"] as unknown as Record<string, string> }, "headers"],
      // Framing headers are the HTTP client's: a configured content-length once hung every translated request.
      [{ headers: { "Content-Length": "5" } }, "headers.Content-Length"],
      [{ headers: { "transfer-encoding": "chunked" } }, "headers.transfer-encoding"],
      [{ headers: { host: "elsewhere" } }, "headers.host"],
      [{ headers: { connection: "close" } }, "headers.connection"],
      [{ headers: { expect: "100-continue" } }, "headers.expect"],
      [{ name: "local" }, "name"],
      // Shaped like another provider's id, which the admin API also finds providers by.
      [{ name: "0b7c7f7e-2f0e-4d3e-9d57-4d2f0a1c9e11" }, "name"],
      [{ models: "gpt" as unknown as string[] }, "models"],
      [{ models: [""] }, "models.0"],
      [{ apiKey: "" }, "apiKey"],
      [{ apiKey: `${KEY} extra` }, "apiKey"],
    ];
    for (const [over, field] of cases) {
      const err = await rejectsField(() => repo.create({ ...base, name: "fresh", ...over } as ProviderInput), field);
      assert.ok(!JSON.stringify({ d: err.detail, f: err.fieldErrors }).includes(KEY));
    }
    const many = await rejectsField(() => repo.create({ name: "X", kind: "x" as never, baseUrl: "file:///etc" }), "kind");
    assert.deepEqual(many.fieldErrors?.map((f) => f.field), ["name", "kind", "baseUrl"]);
    await rejectsField(() => repo.update("openai-main", { headers: { authorization: "Bearer x" } }), "headers.authorization");
    assert.equal(await repo.get("fresh"), undefined);
  });

  it("accepts the timeout bounds and deletes", async () => {
    await repo.create({ name: "edge_1", kind: "anthropic-compatible", baseUrl: "http://h", timeoutMs: 1_000 });
    await repo.update("edge_1", { timeoutMs: 3_600_000, kind: "anthropic" });
    assert.equal((await repo.get("edge_1"))?.timeoutMs, 3_600_000);
    assert.equal(await repo.delete("edge_1"), true);
    assert.equal(await repo.delete("edge_1"), false);
    assert.equal(await repo.get("edge_1"), undefined);
  });
});
