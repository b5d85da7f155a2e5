import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadSecretBox, type SecretBox } from "../security/secret-box.js";
import { openDatabase } from "../store/db.js";
import { SettingsRepository } from "../store/settings-repo.js";

interface Store {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

const KEY = "hub.token";
/** Bound into the sealed value, so it opens only as this setting. */
const CONTEXT = "setting:hub.token";

/**
 * The Hugging Face token: `HF_TOKEN` from the environment when set (it wins), else the one
 * stored through the admin API, sealed with the secret box (AES-256-GCM) in the settings table.
 * The token is never returned by the API, logged, or put in a URL.
 */
export class HubTokenStore {
  private stored: string | undefined;

  constructor(
    private readonly store: Store,
    /** Opened lazily: a server that never stores a token never creates a key file. */
    private readonly box: () => SecretBox,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Reads the stored token; one that no longer opens (the key changed) is ignored with a warning. */
  async load(log?: { warn(obj: object, msg: string): void }): Promise<void> {
    const sealed = await this.store.get<string>(KEY);
    if (!sealed) return;
    try {
      this.stored = this.box().open(sealed, CONTEXT);
    } catch (err) {
      log?.warn({ err: (err as Error).message }, "stored hub token cannot be opened; set it again");
    }
  }

  /** The token to send: the environment's, else the stored one. */
  current(): string | undefined {
    return this.env.HF_TOKEN || this.stored;
  }

  /** Whether a token will be sent (from either source). */
  isSet(): boolean {
    return this.current() !== undefined;
  }

  /** Stores (or with null, clears) the token. */
  async set(token: string | null): Promise<void> {
    await this.store.set(KEY, token === null ? null : this.box().seal(token, CONTEXT));
    this.stored = token ?? undefined;
  }
}

/**
 * The token a command-line tool should send for `home`: `HF_TOKEN` when set (it wins), else the
 * one stored through `PUT /admin/hub/token`, read with the same store and secret box the server
 * uses. A home without a database has no stored token and is left untouched (no database or key
 * file is created); a stored token that no longer opens is reported through `warn`.
 */
export async function readHubToken(home: string, env: NodeJS.ProcessEnv = process.env, warn?: (msg: string) => void): Promise<string | undefined> {
  if (env.HF_TOKEN) return env.HF_TOKEN;
  const file = join(home, "llmux.db");
  if (!existsSync(file)) return undefined;
  const db = await openDatabase(file);
  try {
    const tokens = new HubTokenStore(new SettingsRepository(db), () => loadSecretBox(home, env), env);
    await tokens.load({ warn: (obj, msg) => warn?.(msg) });
    return tokens.current();
  } finally {
    await db.destroy();
  }
}
