import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vitest/config";

// `npm run dev:web` sends API calls to a running llmux (LLMUX_URL, default the standard port).
const target = process.env.LLMUX_URL ?? "http://127.0.0.1:11435";
const proxy = Object.fromEntries(["/v1", "/admin", "/api", "/health", "/metrics"].map((p) => [p, { target, ws: p === "/admin" }]));

export default defineConfig({
  plugins: [sveltekit()],
  server: { proxy },
  // The server bundle (used only to write the fallback page) must carry kit's own cookie@0.6:
  // the hoisted cookie@2 at the repo root (a server dependency) lacks the API kit imports.
  ssr: { noExternal: ["@sveltejs/kit", "cookie"] },
  build: { reportCompressedSize: false, chunkSizeWarningLimit: 1500 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
