/** Raised when `llmux serve` must not start as configured; the message says what to do. */
export class ExposureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExposureError";
  }
}

/** Loopback addresses: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * The exposure policy: on loopback `/v1` may be open (local tools need no key); on any other
 * address the server refuses to start unless API keys are required, or the operator said
 * `--insecure-no-auth`, which returns a warning to log at every start. Admin and manager
 * routes need a login whatever this says.
 */
export function checkExposure(config: { host: string; requireApiKey: boolean; insecureNoAuth: boolean }): { warning?: string } {
  if (isLoopbackHost(config.host) || config.requireApiKey) return {};
  if (config.insecureNoAuth) {
    return {
      warning: `INSECURE: listening on ${config.host} with an open inference API (--insecure-no-auth): anyone who can reach this port can use /v1. Use --require-api-key instead.`,
    };
  }
  throw new ExposureError(
    `refusing to listen on ${config.host} without API keys: anyone on the network could use the inference API. ` +
      "Start with --require-api-key (or LLMUX_REQUIRE_API_KEY=1) and create keys in the web UI or with POST /api/keys, " +
      "bind to 127.0.0.1, or, if you really mean it, pass --insecure-no-auth.",
  );
}
