/**
 * A whole-number setting read from the environment: undefined when unset or empty, else the
 * number, or an Error naming the variable when it is not a whole number within [min, max].
 * A mistyped value must stop the start with a message, as the matching flag does, rather than
 * fall back to the default without a word.
 */
export function envInt(env: NodeJS.ProcessEnv, name: string, min: number, max: number, hint = ""): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}${hint}, not '${raw.slice(0, 40)}'`);
  }
  return n;
}
