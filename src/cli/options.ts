import { InvalidArgumentError } from "commander";

/** Parses a positive integer option, with a message naming the option. */
export const positiveInt = (name: string) => (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return Number(value);
};

export const port = (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError("--port must be 0-65535");
  return n;
};
