type Argon2 = typeof import("@node-rs/argon2");

/**
 * argon2's native library is loaded on the first password check, not at start: a server that
 * only serves /v1 never needs it, and it costs about 12 MiB of resident memory.
 */
let argon2: Promise<Argon2> | undefined;
const lib = (): Promise<Argon2> => (argon2 ??= import("@node-rs/argon2"));

/** OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): about 20-40 ms a hash on one core. */
const options = (a: Argon2) => ({ algorithm: a.Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });

export const MIN_PASSWORD_LENGTH = 8;
/** argon2 takes any length, but a megabyte "password" is only a way to burn our CPU. */
export const MAX_PASSWORD_LENGTH = 1024;

export async function hashPassword(password: string): Promise<string> {
  const a = await lib();
  return a.hash(password, options(a));
}

/** False for a wrong password or a malformed hash (never throws on bad input). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await (await lib()).verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/**
 * Spends the same time as a real check, for logins to unknown emails, so response time
 * does not tell which emails have accounts.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummy ??= hashPassword("llmux-timing-equaliser");
  await verifyPassword(await dummy, password);
}
