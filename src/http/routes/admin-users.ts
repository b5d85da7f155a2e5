import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AuthService } from "../../auth/auth-service.js";
import { parseBody } from "../../codecs/validation.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import { hashPassword } from "../../security/passwords.js";
import { toUserView } from "../../store/users-repo.js";
import { passwordSchema } from "./auth.js";

const patchBody = z
  .strictObject({ role: z.enum(["admin", "user"]).optional(), status: z.enum(["approved", "pending", "disabled"]).optional() })
  .refine((b) => b.role !== undefined || b.status !== undefined, "give role and/or status");
const passwordBody = z.strictObject({ password: passwordSchema });
const USER_ID = /^usr_[0-9a-f]{32}$/;

const notFound = (id: string) => new LlmuxError("user_not_found", `no user '${id.slice(0, 64)}'`);
const checkId = (id: string): string => {
  if (!USER_ID.test(id)) throw notFound(id);
  return id;
};

/** User management for admins: list, approve/disable/change role, reset password, delete. */
export function registerAdminUserRoutes(app: FastifyInstance, deps: { auth: AuthService }): void {
  const admin = { config: { auth: "admin" as const } };
  const users = deps.auth.users;

  app.get("/admin/users", admin, async () => ({ users: (await users.list()).map(toUserView) }));

  app.patch<{ Params: { id: string } }>("/admin/users/:id", admin, async (request) => {
    const id = checkId(request.params.id);
    const body = parseBody(patchBody, request.body);
    const user = await users.update(id, body);
    if (!user) throw notFound(id);
    return { user: toUserView(user) };
  });

  app.post<{ Params: { id: string } }>("/admin/users/:id/password", admin, async (request, reply) => {
    const id = checkId(request.params.id);
    const body = parseBody(passwordBody, request.body);
    if (!(await users.setPasswordHash(id, await hashPassword(body.password)))) throw notFound(id);
    // A reset password ends every session that the old one opened.
    await deps.auth.sessions.revokeAllOf(id);
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string } }>("/admin/users/:id", admin, async (request, reply) => {
    const id = checkId(request.params.id);
    if (!(await users.delete(id))) throw notFound(id);
    return reply.code(204).send();
  });
}
