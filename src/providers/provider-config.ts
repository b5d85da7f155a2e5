/** The wire protocol a provider speaks; `*-compatible` are third-party servers of the same protocol. */
export type ProviderKind = "openai" | "openai-compatible" | "anthropic" | "anthropic-compatible";

/** One configured cloud provider. */
export interface ProviderConfig {
  /** The provider's name, also the backend's `name`. */
  name: string;
  kind: ProviderKind;
  /** e.g. `https://api.openai.com` or `https://api.openai.com/v1` (a trailing `/v1` is not doubled). */
  baseUrl: string;
  /** Never logged, never put in an error message or URL. */
  apiKey?: string;
  /** Extra request headers (organisation, project, beta flags...). */
  headers?: Record<string, string>;
  /** Longest wait for the response headers, and between two chunks of the body. */
  timeoutMs: number;
}

/** `baseUrl` + `/v1` + `path`, without doubling a `/v1` the base already ends with. */
export function providerUrl(baseUrl: string, path: string): string {
  const base = baseUrl.replace(/\/+$/, "");
  return /\/v1$/.test(base) ? `${base}${path}` : `${base}/v1${path}`;
}
