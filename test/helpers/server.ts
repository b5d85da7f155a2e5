import OpenAI from "openai";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { startApp, type App } from "../../src/app.js";
import type { TracingOptions } from "../../src/observability/tracing.js";
import type { LoginLimits } from "../../src/auth/auth-service.js";
import { resolveServeConfig, type EngineConfig } from "../../src/config.js";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";

export interface TestServer {
  app: App;
  url: string;
  home: string;
  /** Everything the server logged, for privacy and error assertions. */
  log: () => string;
  /** The OpenAI SDK on `/v1` (with an admin's API key when keys are required). */
  openai: OpenAI;
  /**
   * `fetch` on this server with an admin's credentials (path relative to the base URL).
   * Every admin and manager route (`/admin/*`, `/api/*`) in tests goes through this, so
   * the auth layer decides in one place what an admin request carries.
   */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** The headers an admin request carries (for WebSocket upgrades and clients other than fetch). */
  adminHeaders(): Record<string, string>;
  close(): Promise<void>;
}

type Preset = Parameters<typeof synthesizeModel>[1]["preset"];

/** A fresh home folder holding the given synthetic models. */
export async function makeHome(models: Record<string, { preset: Preset; seed?: number }>): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), "llmux-test-"));
  mkdirSync(join(home, "models"));
  for (const [name, spec] of Object.entries(models)) {
    await synthesizeModel(join(home, "models", `${name}.gguf`), { preset: spec.preset, seed: spec.seed ?? 1 });
  }
  return home;
}

/** The admin every test server has (the first user registered). */
export const TEST_ADMIN = { email: "admin@llmux.test", password: "admin-password-1" };

/** The `name=value` of a response's session cookie (throws when there is none). */
export function sessionCookieFrom(res: Response): string {
  const set = res.headers.getSetCookie().find((c) => c.startsWith("llmux_session="));
  if (!set) throw new Error(`no session cookie (status ${res.status})`);
  return set.split(";")[0]!;
}

/**
 * Signs a user in over HTTP and returns the cookie to send: registers it (the first user of a
 * home becomes its admin), or logs in when the home already has it (a server restarted on a home).
 */
export async function signIn(url: string, who: { email: string; password: string }): Promise<string> {
  const json = { "content-type": "application/json" };
  const reg = await fetch(`${url}/api/auth/register`, { method: "POST", headers: json, body: JSON.stringify(who) });
  if (reg.status === 201 && reg.headers.getSetCookie().length > 0) return sessionCookieFrom(reg);
  const login = await fetch(`${url}/api/auth/login`, { method: "POST", headers: json, body: JSON.stringify(who) });
  if (login.status !== 200) throw new Error(`cannot sign in ${who.email}: ${login.status} ${await login.text()}`);
  return sessionCookieFrom(login);
}

/** Starts a real llmux on 127.0.0.1 with an ephemeral port. */
export async function startTestServer(
  options: {
    home?: string;
    models?: Record<string, { preset: Preset; seed?: number }>;
    engine?: Partial<EngineConfig>;
    /** Tracing for this server (e.g. an InMemorySpanExporter); the environment decides otherwise. */
    tracing?: Omit<TracingOptions, "serviceVersion">;
    /** `/v1` needs an API key (the mode a non-loopback server runs in). */
    requireApiKey?: boolean;
    loginLimits?: LoginLimits;
    /**
     * Registers no one: the server starts with no users, so the first registration (through the
     * web UI, say) makes its admin. `admin()` and `adminHeaders()` then carry no session.
     */
    noAdmin?: boolean;
  } = {},
): Promise<TestServer> {
  const home = options.home ?? (await makeHome(options.models ?? { tiny: { preset: "tiny" } }));
  let logged = "";
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logged += String(chunk);
      cb();
    },
  });
  const config = resolveServeConfig({
    host: "127.0.0.1",
    port: 0,
    home,
    requireApiKey: options.requireApiKey ?? false,
    engine: { threads: 1, parallel: 4, contextSize: 2048, ...options.engine },
  });
  if (options.noAdmin && options.requireApiKey) throw new Error("startTestServer: requireApiKey needs the test admin (its key); drop noAdmin");
  const app = await startApp(config, { logStream, tracing: options.tracing, loginLimits: options.loginLimits });
  // A real admin session, made the way the web UI makes it: the first user registers over HTTP.
  let session: string | undefined;
  if (!options.noAdmin) {
    try {
      session = await signIn(app.url, TEST_ADMIN);
    } catch {
      // A home that already has users (made by the CLI, say): the test admin registered as pending.
      const user = await app.auth.users.findByEmail(TEST_ADMIN.email);
      if (user) await app.auth.users.update(user.id, { role: "admin", status: "approved" });
      session = await signIn(app.url, TEST_ADMIN);
    }
  }
  const adminHeaders = (): Record<string, string> => ({ ...(session ? { cookie: session } : {}), "x-llmux-csrf": "1" });
  let apiKey = "unused"; // open (loopback) mode ignores it
  if (options.requireApiKey) {
    const res = await fetch(`${app.url}/api/keys`, { method: "POST", headers: { ...adminHeaders(), "content-type": "application/json" }, body: JSON.stringify({ name: "test client" }) });
    apiKey = ((await res.json()) as { secret: string }).secret;
  }
  const openai = new OpenAI({ baseURL: `${app.url}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });
  return {
    app,
    url: app.url,
    home,
    log: () => logged,
    openai,
    admin: (path, init = {}) => fetch(`${app.url}${path}`, { ...init, headers: { ...adminHeaders(), ...(init.headers as Record<string, string> | undefined) } }),
    adminHeaders,
    async close() {
      await app.close();
      if (!options.home) rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Request fields that make the tiny model generate for a long time, whatever the
 * seed: random weights sample the end token every few hundred tokens, but a grammar
 * for 40 strings of exactly 500 characters allows no end before about 20,000 characters.
 */
export const LONG_GENERATION = {
  max_tokens: 30000,
  response_format: {
    type: "json_schema" as const,
    json_schema: {
      name: "long",
      schema: {
        type: "object",
        properties: { items: { type: "array", minItems: 40, maxItems: 40, items: { type: "string", minLength: 500, maxLength: 500 } } },
        required: ["items"],
      },
    },
  },
};
