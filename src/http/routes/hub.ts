import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { AccessWatch } from "../../auth/access-watch.js";
import type { AuthService } from "../../auth/auth-service.js";
import { parseBody } from "../../codecs/validation.js";
import type { DownloadManager, DownloadProgress, DownloadState } from "../../hub/downloader.js";
import type { HubClient } from "../../hub/hub-client.js";
import type { HubTokenStore } from "../../hub/hub-token.js";
import { resolveDownloadFiles } from "../../hub/resolve-files.js";
import { SseWriter } from "../sse.js";

const searchQuery = z.strictObject({
  q: z.string().max(200).optional(),
  author: z.string().max(96).optional(),
  sort: z.enum(["downloads", "lastModified"]).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

const downloadBody = z.strictObject({
  repo: z.string().max(200),
  quant: z.string().min(1).max(32).optional(),
  files: z.array(z.string().min(1).max(512)).min(1).max(64).optional(),
});

const TERMINAL = new Set<DownloadState>(["done", "failed", "cancelled"]);

/**
 * The hub and download admin API: search the hub, list a repo's GGUF files by
 * quantization, and start / follow / pause / resume / cancel downloads into the models folder.
 */
export function registerHubRoutes(app: FastifyInstance, deps: { hub: HubClient; downloads: DownloadManager; auth: Pick<AuthService, "stillHolds"> }): void {
  const admin = { config: { auth: "admin" as const } };

  app.get("/api/hub/search", admin, async (request) => {
    const q = parseBody(searchQuery, request.query);
    return { items: await deps.hub.search({ text: q.q, author: q.author, sort: q.sort, limit: q.limit }) };
  });

  app.get<{ Params: { owner: string; name: string } }>("/api/hub/repos/:owner/:name/files", admin, async (request) =>
    deps.hub.repoFiles(`${request.params.owner}/${request.params.name}`),
  );

  app.post("/api/downloads", admin, async (request, reply) => {
    const body = parseBody(downloadBody, request.body);
    const files = await resolveDownloadFiles(deps.hub, body.repo, body);
    const id = await deps.downloads.start(body.repo, files);
    return reply.code(202).send({ id });
  });

  app.get("/api/downloads", admin, async () => ({ items: deps.downloads.list() }));

  app.get<{ Params: { id: string } }>("/api/downloads/:id", admin, async (request) => deps.downloads.get(request.params.id));

  app.post<{ Params: { id: string } }>("/api/downloads/:id/pause", admin, async (request) => deps.downloads.pause(request.params.id));

  app.post<{ Params: { id: string } }>("/api/downloads/:id/resume", admin, async (request) => deps.downloads.resume(request.params.id));

  app.delete<{ Params: { id: string } }>("/api/downloads/:id", admin, async (request) => deps.downloads.cancel(request.params.id));

  app.get<{ Params: { id: string } }>("/api/downloads/:id/events", admin, async (request, reply) => {
    const { id } = request.params;
    const first = deps.downloads.get(id); // 404 as a problem before any header is sent
    // Events arrive synchronously from the manager; a queue keeps them in order while writes drain.
    const queue: DownloadProgress[] = [first];
    let wake: (() => void) | undefined;
    const onProgress = (p: DownloadProgress) => {
      if (p.id !== id) return;
      queue.push(p);
      wake?.();
    };
    deps.downloads.on("progress", onProgress);
    const sse = new SseWriter(request, reply);
    const onClose = () => wake?.();
    reply.raw.once("close", onClose);
    // A download can stream for an hour: a signed-out or demoted admin stops receiving it.
    let revoked = false;
    const watch = new AccessWatch(deps.auth, request.principal, true, () => {
      revoked = true;
      wake?.();
    });
    try {
      for (;;) {
        while (queue.length === 0 && !sse.closed && !revoked) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        if (sse.closed || revoked || !(await watch.fresh())) break;
        const p = queue.shift()!;
        await sse.write(`event: progress\ndata: ${JSON.stringify(p)}\n\n`);
        if (TERMINAL.has(p.state)) break;
      }
    } finally {
      watch.stop();
      deps.downloads.off("progress", onProgress);
      reply.raw.off("close", onClose);
      sse.end();
    }
  });
}

const tokenBody = z.strictObject({ token: z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces").nullable() });

/** `PUT /admin/hub/token` {token|null} → 204 (stored sealed); `GET /admin/hub/token` → `{ set }`, never the token. */
export function registerHubTokenRoutes(app: FastifyInstance, deps: { hubToken: HubTokenStore }): void {
  const admin = { config: { auth: "admin" as const } };
  app.get("/admin/hub/token", admin, async () => ({ set: deps.hubToken.isSet() }));
  app.put("/admin/hub/token", admin, async (request, reply) => {
    const { token } = parseBody(tokenBody, request.body);
    await deps.hubToken.set(token);
    return reply.code(204).send();
  });
}
