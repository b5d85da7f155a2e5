import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AuthService } from "../../auth/auth-service.js";
import { parseBody } from "../../codecs/validation.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import { toApiKeyView } from "../../store/api-keys-repo.js";
import type { UsageRepository } from "../../store/usage-repo.js";

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:\/@+-]{0,255}$/;
const createBody = z.strictObject({
  // Shown in lists, logs' neighbours and CSV exports: no control characters (NUL included).
  name: z.string().trim().min(1).max(128).regex(/^\P{Cc}*$/u, "must not hold control characters"),
  expires_at: z.number().int().positive().nullable().optional(),
  allowed_models: z.array(z.string().regex(MODEL_ID, "must be a model id")).min(1).max(256).nullable().optional(),
  rpm: z.number().int().min(1).max(1_000_000).nullable().optional(),
});
const KEY_ID = /^key_[0-9a-f]{24}$/;

/** A signed-in user's own API keys (`/api/keys`) and usage (`/api/usage`). */
export function registerApiKeyRoutes(app: FastifyInstance, deps: { auth: AuthService; usage: UsageRepository }): void {
  const user = { config: { auth: "user" as const } };

  app.get("/api/keys", user, async (request) => ({ keys: (await deps.auth.keys.listOf(request.principal!.user.id)).map(toApiKeyView) }));

  app.post("/api/keys", user, async (request, reply) => {
    const body = parseBody(createBody, request.body);
    if (body.expires_at != null && body.expires_at <= Date.now()) {
      throw new LlmuxError("validation_failed", "invalid 'expires_at': must be in the future (epoch milliseconds)", {
        param: "expires_at",
        fieldErrors: [{ field: "expires_at", message: "must be in the future (epoch milliseconds)" }],
      });
    }
    const { key, secret } = await deps.auth.keys.create(request.principal!.user.id, {
      name: body.name,
      expiresAt: body.expires_at ?? null,
      allowedModels: body.allowed_models ? [...new Set(body.allowed_models)] : null,
      rpm: body.rpm ?? null,
    });
    return reply.code(201).send({ key: toApiKeyView(key), secret });
  });

  app.delete<{ Params: { id: string } }>("/api/keys/:id", user, async (request, reply) => {
    const { id } = request.params;
    if (!KEY_ID.test(id) || !(await deps.auth.keys.revoke(request.principal!.user.id, id))) {
      throw new LlmuxError("key_not_found", `you have no API key '${id.slice(0, 64)}'`);
    }
    return reply.code(204).send();
  });

  app.get("/api/usage", user, async (request) => deps.usage.of(request.principal!.user.id));
}
