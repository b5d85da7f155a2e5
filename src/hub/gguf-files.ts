/**
 * Groups the GGUF files of a hub repo by quantization, and split sets
 * (`name-00001-of-00003.gguf`) into one entry with all their parts.
 */

/** One file of a repo as listed by the hub tree. */
export interface HubFile {
  path: string;
  /** Bytes (the LFS object's size for LFS files). */
  size: number;
  /** sha256 of the content (the LFS oid); absent for non-LFS files. */
  sha256?: string;
}

/** One downloadable model: a single GGUF file, or all parts of a split set. */
export interface GgufEntry {
  /** Display name: the file name without `.gguf` and without the split suffix. */
  name: string;
  quantization: string;
  /** Sum of the parts' sizes. */
  size: number;
  split: boolean;
  /** The files to download (parts in order for a split set). */
  files: HubFile[];
}

export interface QuantGroup {
  /** Upper-case quantization ("Q4_K_M", "IQ2_XS", "F16"), or "unknown". */
  quantization: string;
  /** Sum of the entries' sizes. */
  size: number;
  entries: GgufEntry[];
}

// Quantization tokens as llama.cpp names them, delimited by non-alphanumerics.
const QUANT_RE =
  /(?<![A-Za-z0-9])(I?Q[1-8](?:_[01])?(?:_K)?(?:_(?:XXS|XS|XL|NL|S|M|L))?|TQ[12]_0|BF16|F16|F32|MXFP4(?:_MOE)?)(?![A-Za-z0-9])/gi;
const SPLIT_RE = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** The quantization named in a GGUF file name (the last token that looks like one), else undefined. */
export function parseQuantization(fileName: string): string | undefined {
  const base = fileName.replace(/\.gguf$/i, "");
  let last: string | undefined;
  for (const m of base.matchAll(QUANT_RE)) last = m[1];
  return last?.toUpperCase();
}

/** Groups the `.gguf` files of a listing by quantization; other files are ignored. */
export function groupGgufFiles(files: HubFile[]): QuantGroup[] {
  const entries: GgufEntry[] = [];
  const splits = new Map<string, { name: string; total: number; parts: Map<number, HubFile>; dir: string }>();
  for (const f of files) {
    if (!f.path.toLowerCase().endsWith(".gguf")) continue;
    const slash = f.path.lastIndexOf("/");
    const dir = slash >= 0 ? f.path.slice(0, slash) : "";
    const base = f.path.slice(slash + 1);
    const m = SPLIT_RE.exec(base);
    if (m) {
      const key = `${dir}/${m[1]}/${m[3]}`;
      let s = splits.get(key);
      if (!s) splits.set(key, (s = { name: m[1], total: Number(m[3]), parts: new Map(), dir }));
      s.parts.set(Number(m[2]), f);
      continue;
    }
    const name = base.replace(/\.gguf$/i, "");
    entries.push({ name, quantization: quantOf(name, dir), size: f.size, split: false, files: [f] });
  }
  for (const s of splits.values()) {
    const parts = [...s.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
    // An incomplete set cannot be loaded; list it anyway so the caller sees it, but flagged by its part count.
    entries.push({
      name: s.name,
      quantization: quantOf(s.name, s.dir),
      size: parts.reduce((n, f) => n + f.size, 0),
      split: true,
      files: parts,
    });
  }
  const groups = new Map<string, QuantGroup>();
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    let g = groups.get(e.quantization);
    if (!g) groups.set(e.quantization, (g = { quantization: e.quantization, size: 0, entries: [] }));
    g.entries.push(e);
    g.size += e.size;
  }
  return [...groups.values()].sort((a, b) => a.quantization.localeCompare(b.quantization));
}

/** From the file name, else from its folder (repos like `Q4_K_M/model-00001-of-00002.gguf`). */
const quantOf = (name: string, dir: string): string =>
  parseQuantization(name) ?? parseQuantization(dir.slice(dir.lastIndexOf("/") + 1)) ?? "unknown";
