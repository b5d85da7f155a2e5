import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scryptSync } from "node:crypto";
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Raised when a secret cannot be opened or the key source is unusable. Never holds the secret. */
export class SecretBoxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SecretBoxError";
  }
}

const VERSION = "v1";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/**
 * `LLMUX_SECRET` may be any string (often a passphrase), so the key is stretched with
 * scrypt (N=2^15, r=8, p=1) rather than HKDF, which adds no work against guessing.
 * The salt is fixed so the same secret always gives the same key on every replica.
 */
const SCRYPT_SALT = "llmux/secret-box/v1";
const SCRYPT_OPTIONS = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * AES-256-GCM sealing of small secrets (provider API keys) for storage at rest.
 * Sealed form: `v1:<iv b64>:<tag b64>:<ciphertext b64>`, with a random 12-byte IV each time.
 * An optional `context` (e.g. the row's name) is bound as additional authenticated data,
 * so a sealed value copied to another row does not open there.
 */
export class SecretBox {
  readonly #key: Buffer;

  /** `key` must be 32 bytes; use {@link loadSecretBox} or {@link SecretBox.fromSecret}. */
  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SecretBoxError(`secret box key must be ${KEY_BYTES} bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
  }

  /** A box keyed by scrypt(secret, fixed salt). */
  static fromSecret(secret: string): SecretBox {
    if (secret.length === 0) throw new SecretBoxError("LLMUX_SECRET is empty");
    return new SecretBox(scryptSync(secret, SCRYPT_SALT, KEY_BYTES, SCRYPT_OPTIONS));
  }

  seal(plaintext: string, context = ""): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, "utf8"));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [VERSION, iv.toString("base64"), cipher.getAuthTag().toString("base64"), ct.toString("base64")].join(":");
  }

  /** Throws {@link SecretBoxError} on a malformed value, a tampered value or a wrong key. */
  open(sealed: string, context = ""): string {
    const parts = sealed.split(":");
    if (parts.length !== 4 || parts.slice(1).some((p) => !B64.test(p))) {
      throw new SecretBoxError("cannot open sealed secret: not in the v1:<iv>:<tag>:<ciphertext> format");
    }
    const [version, ivB64, tagB64, ctB64] = parts as [string, string, string, string];
    if (version !== VERSION) throw new SecretBoxError(`cannot open sealed secret: unknown format version '${version.slice(0, 8)}'`);
    const iv = Buffer.from(ivB64, "base64");
    const tag = Buffer.from(tagB64, "base64");
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new SecretBoxError("cannot open sealed secret: bad IV or tag length");
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(ctB64, "base64")), decipher.final()]).toString("utf8");
    } catch {
      // GCM cannot tell a wrong key from tampering; say both, and drop the cause (it says nothing useful).
      throw new SecretBoxError(
        "cannot open sealed secret: authentication failed (wrong key, e.g. LLMUX_SECRET or secret.key changed since it was sealed, or the value was tampered with)",
      );
    }
  }
}

/**
 * The box for a home folder. Key source, in order:
 * 1. `LLMUX_SECRET` (any non-empty string, stretched with scrypt; see {@link SecretBox.fromSecret});
 * 2. `<home>/secret.key`: 32 random bytes, created atomically with mode 0600 on first use
 *    (written to a temporary file, then hard-linked into place, so no reader ever sees a partial
 *    key and two processes racing agree on one key). An existing key file readable or writable by
 *    group or others is refused, not silently fixed: the key may already have leaked.
 */
export function loadSecretBox(home: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
  const secret = env.LLMUX_SECRET;
  if (secret !== undefined && secret !== "") return SecretBox.fromSecret(secret);
  return new SecretBox(loadOrCreateKeyFile(join(home, "secret.key"), home));
}

/**
 * A 32-byte key for another purpose (e.g. `session` for signing session tokens), from the same
 * source as {@link loadSecretBox}: scrypt of `LLMUX_SECRET` with a purpose-specific salt, or HKDF of
 * `<home>/secret.key` with the purpose as info. Separate purposes never share key bytes, so the
 * token-signing key cannot open sealed secrets and the other way round.
 */
export function loadDerivedKey(home: string, purpose: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const label = `llmux/${purpose}/v1`;
  const secret = env.LLMUX_SECRET;
  if (secret !== undefined && secret !== "") return scryptSync(secret, label, KEY_BYTES, SCRYPT_OPTIONS);
  const master = loadOrCreateKeyFile(join(home, "secret.key"), home);
  return Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), label, KEY_BYTES));
}

function loadOrCreateKeyFile(file: string, home: string): Buffer {
  try {
    return readKeyFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, randomBytes(KEY_BYTES));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file); // fails with EEXIST if another process created the key first: use theirs
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(tmp);
  }
  return readKeyFile(file);
}

function readKeyFile(file: string): Buffer {
  const st = statSync(file);
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    throw new SecretBoxError(
      `refusing to use ${file}: its mode is ${(st.mode & 0o777).toString(8)}, but it must not be accessible by group or others (run: chmod 600 '${file}')`,
    );
  }
  const key = readFileSync(file);
  if (key.length !== KEY_BYTES) throw new SecretBoxError(`${file} must hold exactly ${KEY_BYTES} bytes, found ${key.length}`);
  return key;
}
