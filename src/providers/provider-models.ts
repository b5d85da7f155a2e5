import { providerUrl, type ProviderConfig } from "./provider-config.js";
import { upstreamJson } from "./upstream-http.js";

/** A model a provider lists (`GET /v1/models`), in the fields both protocols share. */
export interface ProviderModel {
  id: string;
  /** Anthropic's `display_name`. */
  displayName?: string;
  /** OpenAI's `owned_by`. */
  ownedBy?: string;
}

/** Reads `{ data: [{ id, ... }] }`, the list shape of both OpenAI and Anthropic. */
export function parseModelList(body: unknown): ProviderModel[] {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return [];
  const out: ProviderModel[] = [];
  for (const m of data as Record<string, unknown>[]) {
    if (typeof m?.id !== "string") continue;
    const model: ProviderModel = { id: m.id };
    if (typeof m.display_name === "string") model.displayName = m.display_name;
    if (typeof m.owned_by === "string") model.ownedBy = m.owned_by;
    out.push(model);
  }
  return out;
}

/** `GET <base><path>` with the provider's headers, parsed as a model list (for "test a provider"). */
export async function fetchProviderModels(
  config: ProviderConfig,
  path: string,
  headers: Record<string, string>,
  signal: AbortSignal = new AbortController().signal,
): Promise<ProviderModel[]> {
  const body = await upstreamJson({
    url: providerUrl(config.baseUrl, path),
    method: "GET",
    headers,
    signal,
    timeoutMs: config.timeoutMs,
    ctx: { provider: config.name, apiKey: config.apiKey },
  });
  return parseModelList(body);
}
