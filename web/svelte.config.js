import adapter from "@sveltejs/adapter-static";
import { vitePreprocess } from "@sveltejs/vite-plugin-svelte";

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: llmux serves build/ and falls back to index.html for UI paths.
    adapter: adapter({ pages: "build", assets: "build", fallback: "index.html", strict: true }),
    // SvelteKit boots with one inline <script>; hash mode lets a strict `script-src 'self'` policy
    // admit exactly it. The server also hashes the built page's inline scripts for its CSP header.
    csp: { mode: "hash", directives: { "script-src": ["self"], "object-src": ["none"], "base-uri": ["self"] } },
    // Wire types come from the server's own module (types only), never copied.
    alias: { $api: "../src/http/api-types.ts" },
    output: { bundleStrategy: "single" },
    version: { pollInterval: 0 },
  },
};
export default config;
