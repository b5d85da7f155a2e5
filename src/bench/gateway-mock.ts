/**
 * The gateway benchmark's parts shared by `npm run bench:gateway` and the suite's gateway
 * section: a minimal OpenAI mock upstream in its own process, and the admin calls that point
 * llmux at it (an `openai-compatible` provider and an exact rule).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** The model name the bench requests; a rule sends it to the mock. */
export const GATEWAY_BENCH_MODEL = "bench-gateway";
/** The provider llmux gets for the mock. */
export const GATEWAY_BENCH_PROVIDER = "bench-mock";

/**
 * The mock upstream, as an ES module's source: plain node:http, fixed answers (a JSON
 * completion with usage, or an SSE stream of 13 chunks with usage and `[DONE]`), no parsing
 * beyond the streaming flag. Run by `node --input-type=module -e`, so it needs no file and no
 * build; it prints `READY <port>` once listening.
 */
export const MOCK_UPSTREAM_SOURCE = `
import { createServer } from "node:http";
const JSON_ANSWER = JSON.stringify({
  id: "chatcmpl-bench", object: "chat.completion", created: 1, model: "mock-model",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello! This is a fixed answer from the mock upstream." }, finish_reason: "stop", logprobs: null }],
  usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 },
});
const chunk = (delta, finish = null) =>
  "data: " + JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "mock-model", choices: [{ index: 0, delta, finish_reason: finish }] }) + "\\n\\n";
const WORDS = "Hello ! This is a fixed answer from the mock upstream .".split(" ");
const SSE_ANSWER = chunk({ role: "assistant", content: "" }) + WORDS.map((w) => chunk({ content: w + " " })).join("") + chunk({}, "stop") +
  "data: " + JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "mock-model", choices: [], usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 } }) + "\\n\\n" +
  "data: [DONE]\\n\\n";
const server = createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"object":"list","data":[{"id":"mock-model","object":"model"}]}');
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (Buffer.concat(chunks).includes('"stream":true')) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.end(SSE_ANSWER);
    } else {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(JSON_ANSWER) });
      res.end(JSON_ANSWER);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log("READY " + server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

/** A running mock upstream. */
export interface MockUpstream {
  /** `http://127.0.0.1:PORT` (the chat path is `/v1/chat/completions`). */
  url: string;
  child: ChildProcess;
  close(): void;
}

/**
 * Runs `node ARGS` (a bench's own server) and resolves with its URL once it prints `READY <port>`
 * on stdout; rejects, naming `what`, when it exits first.
 */
export function spawnUntilReady(args: string[], what: string, env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on("line", (line) => {
      if (!line.startsWith("READY ")) return;
      rl.close();
      child.removeListener("exit", onExit);
      resolve({ url: `http://127.0.0.1:${line.slice(6).trim()}`, child });
    });
    const onExit = (code: number | null) => reject(new Error(`${what} exited with ${code}`));
    child.once("exit", onExit);
  });
}

/** Starts the mock upstream in its own process (so its CPU is not the gateway's). */
export async function startMockUpstream(): Promise<MockUpstream> {
  const { url, child } = await spawnUntilReady(["--input-type=module", "-e", MOCK_UPSTREAM_SOURCE], "the mock upstream");
  return { url, child, close: () => void child.kill("SIGTERM") };
}

/** The bench's admin account on the llmux it configures (a bench home's first user). */
const BENCH_ADMIN = { email: "bench-admin@llmux.invalid", password: "bench-admin-password" };

async function call(url: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown }): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: init.method ?? "GET",
    headers: { "content-type": "application/json", ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res;
}

/**
 * Signs in as the bench's admin: registers it when the server has no user yet (the first user
 * is an admin), else logs in. Returns the headers of an admin's writes (session cookie, CSRF).
 */
export async function benchAdminHeaders(url: string): Promise<Record<string, string>> {
  let res = await call(url, "/api/auth/register", { method: "POST", body: BENCH_ADMIN });
  if (res.status !== 201 || !(((await res.clone().json()) as { signed_in?: boolean }).signed_in ?? false)) {
    res = await ok(await call(url, "/api/auth/login", { method: "POST", body: BENCH_ADMIN }), "bench admin login");
  }
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
  return { cookie, "x-llmux-csrf": "1" };
}

/**
 * Points llmux at the mock: an `openai-compatible` provider `bench-mock` (created, or its base URL
 * updated when a bench home already has it) and an exact rule sending {@link GATEWAY_BENCH_MODEL}
 * to it, ahead of the other rules. Pass-through applies (OpenAI client, OpenAI-protocol provider).
 */
export async function configureGatewayBench(llmuxUrl: string, mockUrl: string): Promise<void> {
  const headers = await benchAdminHeaders(llmuxUrl);
  const list = (await (await ok(await call(llmuxUrl, "/admin/providers", { headers }), "list providers")).json()) as { providers: { id: string; name: string }[] };
  const existing = list.providers.find((p) => p.name === GATEWAY_BENCH_PROVIDER);
  if (existing) await ok(await call(llmuxUrl, `/admin/providers/${existing.id}`, { method: "PATCH", headers, body: { base_url: mockUrl } }), "update provider");
  else await ok(await call(llmuxUrl, "/admin/providers", { method: "POST", headers, body: { name: GATEWAY_BENCH_PROVIDER, kind: "openai-compatible", base_url: mockUrl } }), "create provider");
  const current = (await (await ok(await call(llmuxUrl, "/admin/routing/rules", { headers }), "list rules")).json()) as { rules: { id: string }[] };
  const rule = { id: "bench-gateway", match: { kind: "exact", pattern: GATEWAY_BENCH_MODEL }, targets: [{ backend: GATEWAY_BENCH_PROVIDER }] };
  const rules = [rule, ...current.rules.filter((r) => r.id !== rule.id)];
  await ok(await call(llmuxUrl, "/admin/routing/rules", { method: "PUT", headers, body: { rules } }), "set rules");
}
