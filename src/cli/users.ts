import type { Command } from "commander";
import { join } from "node:path";
import { AuthService } from "../auth/auth-service.js";
import { defaultHome } from "../config.js";
import { EMAIL_RE } from "../http/routes/auth.js";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../security/passwords.js";
import { loadDerivedKey } from "../security/secret-box.js";
import { ApiKeysRepository } from "../store/api-keys-repo.js";
import { openDatabase } from "../store/db.js";
import { SessionsRepository } from "../store/sessions-repo.js";
import { UsersRepository } from "../store/users-repo.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // One trailing newline is the shell's, not the password's.
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** `llmux users create-admin`: an approved admin for headless set-up (the database may be in use by a running server). */
export function registerUserCommands(program: Command): void {
  const users = program.command("users").description("manage users");
  users
    .command("create-admin")
    .description("create an approved admin (reads the password from stdin with --password-stdin, else from LLMUX_ADMIN_PASSWORD)")
    .requiredOption("--email <email>", "the admin's email (the login name)")
    .option("--password-stdin", "read the password from standard input")
    .option("--home <dir>", "data folder (env LLMUX_HOME, default ~/.llmux)")
    .action(async (opts: { email: string; passwordStdin?: boolean; home?: string }) => {
      if (!EMAIL_RE.test(opts.email) || opts.email.length > 254) throw new Error(`--email: '${opts.email.slice(0, 64)}' is not an email address`);
      // Never a --password flag: it would sit in the shell history and in `ps` for everyone to read.
      const password = opts.passwordStdin ? await readStdin() : (process.env.LLMUX_ADMIN_PASSWORD ?? "");
      if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
        throw new Error(`the password must be ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters (give it with --password-stdin or LLMUX_ADMIN_PASSWORD)`);
      }
      const home = opts.home ?? defaultHome();
      const db = await openDatabase(join(home, "llmux.db"));
      try {
        const auth = new AuthService(new UsersRepository(db), new SessionsRepository(db), new ApiKeysRepository(db), loadDerivedKey(home, "session"));
        const user = await auth.register(opts.email, password, { role: "admin", status: "approved" });
        process.stdout.write(`created admin ${user.email} (${user.id})\n`);
      } finally {
        await db.destroy();
      }
    });
}
