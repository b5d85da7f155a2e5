import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [sveltekit()],
  // The server bundle (used only to write the fallback page) must carry kit's own cookie@0.6:
  // the hoisted cookie@2 at the repo root (a server dependency) lacks the API kit imports.
  ssr: { noExternal: ["@sveltejs/kit", "cookie"] },
  build: { reportCompressedSize: false, chunkSizeWarningLimit: 1500 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
