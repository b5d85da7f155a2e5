import { Algorithm, hash, verify } from "@node-rs/argon2";

/** OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): about 20-40 ms a hash on one core. */
const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const MIN_PASSWORD_LENGTH = 8;
/** argon2 takes any length, but a megabyte "password" is only a way to burn our CPU. */
export const MAX_PASSWORD_LENGTH = 1024;

export const hashPassword = (password: string): Promise<string> => hash(password, OPTIONS);

/** False for a wrong password or a malformed hash (never throws on bad input). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
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
