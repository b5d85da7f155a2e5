import type { Command } from "commander";
import { join } from "node:path";
import { defaultHome } from "../config.js";
import { DownloadManager, type DownloadProgress } from "../hub/downloader.js";
import { HubClient } from "../hub/hub-client.js";
import { readHubToken } from "../hub/hub-token.js";
import { resolveDownloadFiles } from "../hub/resolve-files.js";

/** `owner/repo`, `owner/repo:QUANT` or `owner/repo/path/to/file.gguf`. */
export function parsePullTarget(target: string): { repo: string; quant?: string; files?: string[] } {
  const colon = target.indexOf(":");
  if (colon >= 0) return { repo: target.slice(0, colon), quant: target.slice(colon + 1) };
  const parts = target.split("/");
  if (parts.length > 2) return { repo: parts.slice(0, 2).join("/"), files: [parts.slice(2).join("/")] };
  return { repo: target };
}

const fmtBytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};

const fmtEta = (s: number | undefined): string => {
  if (s === undefined || !Number.isFinite(s)) return "--:--";
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, "0");
  const ss = String(t % 60).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

/** One line: `[#####.....]  42.0%  1.2 MiB / 2.9 MiB  3.4 MiB/s  ETA 00:01`. */
export function progressLine(p: DownloadProgress, width = 24): string {
  const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
  const filled = Math.round(frac * width);
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  return `${bar} ${(frac * 100).toFixed(1).padStart(5)}%  ${fmtBytes(p.bytesDone)} / ${fmtBytes(p.bytesTotal)}  ${fmtBytes(p.speedBps)}/s  ETA ${fmtEta(p.etaSeconds)}  ${p.state}`;
}

/** `llmux pull`: downloads a hub model into `<home>/models` directly, no server needed. */
export function registerPullCommand(program: Command): void {
  program
    .command("pull <target>")
    .description("download a GGUF from the hub: REPO, REPO:QUANT or REPO/FILE (token from env HF_TOKEN, else the one stored in --home through the admin API)")
    .option("--home <dir>", "data folder (env LLMUX_HOME, default ~/.llmux)")
    .option("--hub <url>", "hub URL (env LLMUX_HUB_URL, default https://huggingface.co)")
    .action(async (target: string, opts: { home?: string; hub?: string }) => {
      const hubUrl = opts.hub || process.env.LLMUX_HUB_URL || undefined;
      const home = opts.home ?? defaultHome();
      const token = await readHubToken(home, process.env, (msg) => process.stderr.write(`llmux: ${msg}\n`));
      const pick = parsePullTarget(target);
      const hub = new HubClient({ baseUrl: hubUrl, token });
      const files = await resolveDownloadFiles(hub, pick.repo, pick);
      const manager = new DownloadManager({ modelsDir: join(home, "models"), hubBaseUrl: hubUrl, token });
      const tty = process.stderr.isTTY;
      let last = "";
      manager.on("progress", (p: DownloadProgress) => {
        const line = progressLine(p);
        if (line === last) return;
        last = line;
        process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      });
      const onSignal = () => void manager.close().then(() => process.exit(130));
      process.once("SIGINT", onSignal);
      try {
        const id = await manager.start(pick.repo, files);
        const end = await manager.waitFor(id);
        if (tty) process.stderr.write("\n");
        if (end.state !== "done") throw new Error(end.error?.detail ?? `download ${end.state}`);
        for (const f of end.files) process.stdout.write(`${join(manager.modelsDir, f.name)}\n`);
      } finally {
        process.off("SIGINT", onSignal);
        await manager.close();
      }
    });
}
