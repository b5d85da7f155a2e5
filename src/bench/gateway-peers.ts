/**
 * The gateways `npm run bench:gateway` measures beside llmux, in the same run and taking turns
 * with it, so that a goal stated against them holds whatever speed the machine has that hour:
 *
 * - the **Node floor**: the least a Node gateway can do (node:http in, the body parsed and its
 *   model renamed, forwarded through an undici `Pool`, the answer sent back). Whatever llmux
 *   costs beyond it is llmux's own work: auth, routing, accounting, logs, metrics, audit.
 * - **Portkey** (`@portkey-ai/gateway`, the peer #4 names), when installed: it is not a
 *   dependency of llmux, so the bench runs it only from a path it is given.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { pathToFileURL } from "node:url";
import { spawnUntilReady } from "./gateway-mock.js";

/**
 * The Node floor, as an ES module's source run by `node --input-type=module -e`. It takes the
 * upstream origin and undici's entry (a file URL: `-e` code resolves no package) from the
 * environment, and prints `READY <port>` once listening. Non-streaming answers are read whole and
 * sent with one write, as a gateway that accounts for usage must; streams are piped chunk by chunk.
 */
export const NODE_FLOOR_SOURCE = `
import { createServer } from "node:http";
const undici = await import(process.env.FLOOR_UNDICI);
const { Pool } = undici.Pool ? undici : undici.default;
const pool = new Pool(process.env.FLOOR_UPSTREAM, { connections: 128 });
const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    body.model = process.env.FLOOR_MODEL || body.model;
    const up = await pool.request({ path: req.url, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    res.writeHead(up.statusCode, { "content-type": up.headers["content-type"] || "application/json" });
    if (body.stream) {
      for await (const c of up.body) res.write(c);
      res.end();
    } else {
      res.end(await up.body.text());
    }
  } catch (err) {
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: String(err && err.message) } }));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log("READY " + server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

/** A gateway started for the bench. */
export interface BenchGateway {
  /** `http://127.0.0.1:PORT` (the chat path is `/v1/chat/completions`). */
  url: string;
  child: ChildProcess;
  /** Headers every request through it needs (Portkey: which provider, and where). */
  headers: Record<string, string>;
}

/**
 * Starts the Node floor in its own process in front of `upstreamUrl`, renaming each request's
 * model to `model` when given. It runs with `--liftoff-only`, as `llmux serve` keeps undici's
 * WebAssembly (src/runtime/heap.ts), so the two are compared on the same V8 settings.
 */
export async function startNodeFloor(upstreamUrl: string, model?: string): Promise<BenchGateway> {
  const undici = pathToFileURL(createRequire(import.meta.url).resolve("undici")).href;
  const env = { ...process.env, FLOOR_UPSTREAM: upstreamUrl, FLOOR_UNDICI: undici, FLOOR_MODEL: model ?? "" };
  const { url, child } = await spawnUntilReady(["--liftoff-only", "--input-type=module", "-e", NODE_FLOOR_SOURCE], "the Node floor", env);
  return { url, child, headers: {} };
}

/** A free TCP port on 127.0.0.1 (Portkey takes its port as an argument). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The headers that send a request through Portkey to an OpenAI-compatible upstream (its "custom host"). */
export const portkeyHeaders = (upstreamUrl: string): Record<string, string> => ({
  "x-portkey-provider": "openai",
  "x-portkey-custom-host": `${upstreamUrl.replace(/\/+$/, "")}/v1`,
  authorization: "Bearer bench",
});

/**
 * Starts Portkey's gateway (`build/start-server.js` of `@portkey-ai/gateway`) headless on a free
 * port, and waits until it answers. Resolves null when `startServerJs` is not given.
 */
export async function startPortkey(startServerJs: string | undefined, upstreamUrl: string, timeoutMs = 30_000): Promise<BenchGateway | null> {
  if (!startServerJs) return null;
  const port = await freePort();
  const child = spawn(process.execPath, [startServerJs, `--port=${port}`, "--headless"], { stdio: ["ignore", "ignore", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  while (Date.now() < deadline && exited === undefined) {
    try {
      if ((await fetch(`${url}/`)).ok) return { url, child, headers: portkeyHeaders(upstreamUrl) };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGTERM");
  throw new Error(exited === undefined ? `Portkey did not answer on ${url} within ${timeoutMs} ms` : `Portkey exited with ${exited}`);
}
