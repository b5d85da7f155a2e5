import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SecretBox, SecretBoxError, loadSecretBox } from "../../src/security/secret-box.js";

const homes: string[] = [];
const tempHome = () => {
  const h = mkdtempSync(join(tmpdir(), "llmux-secret-"));
  homes.push(h);
  return h;
};
after(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

const SECRET = "sk-test-THE-PLAINTEXT-1234567890";

describe("SecretBox", () => {
  it("seals to the v1 format with a fresh IV and opens it back", () => {
    const box = loadSecretBox(tempHome(), {});
    const a = box.seal(SECRET);
    const b = box.seal(SECRET);
    assert.match(a, /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    assert.equal(Buffer.from(a.split(":")[1] as string, "base64").length, 12);
    assert.notEqual(a, b);
    assert.ok(!a.includes(SECRET));
    assert.equal(box.open(a), SECRET);
    assert.equal(box.open(b), SECRET);
  });

  it("fails clearly on a tampered ciphertext, tag or context, without echoing the secret", () => {
    const box = loadSecretBox(tempHome(), {});
    const sealed = box.seal(SECRET, "ctx");
    const [v, iv, tag, ct] = sealed.split(":") as [string, string, string, string];
    const ctBytes = Buffer.from(ct, "base64");
    ctBytes[0] = (ctBytes[0] as number) ^ 1;
    const tagBytes = Buffer.from(tag, "base64");
    tagBytes[3] = (tagBytes[3] as number) ^ 0x80;
    for (const bad of [
      [v, iv, tag, ctBytes.toString("base64")].join(":"),
      [v, iv, tagBytes.toString("base64"), ct].join(":"),
    ]) {
      assert.throws(() => box.open(bad, "ctx"), (err: unknown) => {
        assert.ok(err instanceof SecretBoxError);
        assert.match(err.message, /authentication failed.*wrong key.*tampered/);
        assert.ok(!err.message.includes(SECRET));
        return true;
      });
    }
    assert.throws(() => box.open(sealed, "other"), SecretBoxError);
    assert.throws(() => box.open("v2:a:b:c"), /unknown format version/);
    assert.throws(() => box.open("garbage"), /format/);
  });

  it("creates <home>/secret.key with 32 bytes and mode 0600, then reuses it", () => {
    const home = tempHome();
    const box1 = loadSecretBox(home, {});
    const file = join(home, "secret.key");
    const st = statSync(file);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 32);
    const key = readFileSync(file);
    const sealed = box1.seal(SECRET);
    const box2 = loadSecretBox(home, { LLMUX_SECRET: "" });
    assert.deepEqual(readFileSync(file), key);
    assert.equal(box2.open(sealed), SECRET);
  });

  it("refuses a key file readable by group or others", () => {
    const home = tempHome();
    loadSecretBox(home, {});
    const file = join(home, "secret.key");
    chmodSync(file, 0o644);
    assert.throws(() => loadSecretBox(home, {}), (err: unknown) => {
      assert.ok(err instanceof SecretBoxError);
      assert.match(err.message, /refusing.*644.*chmod 600/);
      return true;
    });
  });

  it("refuses a key file of the wrong size", () => {
    const home = tempHome();
    writeFileSync(join(home, "secret.key"), Buffer.alloc(7), { mode: 0o600 });
    assert.throws(() => loadSecretBox(home, {}), /exactly 32 bytes/);
  });

  it("LLMUX_SECRET overrides the key file; another secret cannot open old values", () => {
    const home = tempHome();
    const fileBox = loadSecretBox(home, {});
    const envBox = loadSecretBox(home, { LLMUX_SECRET: "correct horse battery staple" });
    const sealed = envBox.seal(SECRET);
    assert.throws(() => fileBox.open(sealed), /wrong key/);
    assert.equal(loadSecretBox(tempHome(), { LLMUX_SECRET: "correct horse battery staple" }).open(sealed), SECRET);
    assert.throws(() => loadSecretBox(home, { LLMUX_SECRET: "another secret" }).open(sealed), /LLMUX_SECRET or secret.key changed/);
  });

  it("rejects keys that are not 32 bytes", () => {
    assert.throws(() => new SecretBox(Buffer.alloc(16)), /32 bytes/);
  });
});
