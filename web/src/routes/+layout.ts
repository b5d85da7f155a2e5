// A client-only app: llmux serves the static files, the browser renders everything.
export const ssr = false;
export const prerender = false;
