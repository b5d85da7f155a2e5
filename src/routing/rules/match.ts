import { LlmuxError } from "../../errors/llmux-error.js";

/** How a routing rule recognises a model name. All kinds match the whole name, case-sensitively. */
export type MatchKind = "exact" | "prefix" | "glob" | "regex";

export interface MatchSpec {
  kind: MatchKind;
  pattern: string;
}

export const MAX_PATTERN_LENGTH = 256;
export const MAX_INPUT_LENGTH = 256;

const KINDS: readonly MatchKind[] = ["exact", "prefix", "glob", "regex"];

const invalid = (param: string, message: string): LlmuxError =>
  new LlmuxError("validation_failed", `invalid '${param}': ${message}`, { param, fieldErrors: [{ field: param, message }] });

/**
 * Checks a rule's pattern, throwing `validation_failed` (with `param`) when it is too long,
 * of an unknown kind, or — for `regex` — not valid or not provably safe from catastrophic
 * backtracking: backreferences, lookarounds, nested quantifiers (`(a+)+`) and repeated
 * alternations (`(a|aa)+`) are refused.
 */
export function validatePattern(spec: MatchSpec, param = "match.pattern"): void {
  if (!spec || typeof spec !== "object") throw invalid(param, "a match needs a kind and a pattern");
  if (!KINDS.includes(spec.kind)) throw invalid(param, `unknown match kind '${String(spec.kind)}' (expected ${KINDS.join(", ")})`);
  if (typeof spec.pattern !== "string") throw invalid(param, "the pattern must be a string");
  if (spec.pattern.length > MAX_PATTERN_LENGTH) {
    throw invalid(param, `the pattern is ${spec.pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed`);
  }
  if (spec.kind === "regex") checkRegex(spec.pattern, param);
}

/** Compiles a validated matcher. Names longer than {@link MAX_INPUT_LENGTH} never match. */
export function compileMatcher(spec: MatchSpec, param = "match.pattern"): (model: string) => boolean {
  validatePattern(spec, param);
  const { pattern } = spec;
  const bounded = (fn: (m: string) => boolean) => (model: string) =>
    typeof model === "string" && model.length <= MAX_INPUT_LENGTH && fn(model);
  switch (spec.kind) {
    case "exact":
      return bounded((m) => m === pattern);
    case "prefix":
      return bounded((m) => m.startsWith(pattern));
    case "glob":
      return bounded(compileGlob(pattern));
    case "regex": {
      const re = new RegExp(`^(?:${pattern})$`, "u");
      return bounded((m) => re.test(m));
    }
  }
}

/**
 * A glob of `*` (any run, possibly empty) and `?` (one character; code points, not UTF-16
 * units). Every other character is literal. Compiled to literal-with-`?` segments split on
 * `*`: the first is anchored at the start, the last at the end, the middle ones are taken
 * leftmost-first. Leftmost placement is always optimal, so nothing is ever revisited: the
 * work is O(name × pattern) at worst, with no backtracking across stars.
 */
export function compileGlob(pattern: string): (model: string) => boolean {
  const chars = Array.from(pattern);
  const segments: string[][] = [[]];
  for (const c of chars) {
    if (c === "*") segments.push([]);
    else segments[segments.length - 1]!.push(c);
  }
  const hasStar = segments.length > 1;
  const segAt = (input: string[], seg: string[], at: number): boolean => {
    if (at + seg.length > input.length) return false;
    for (let j = 0; j < seg.length; j++) if (seg[j] !== "?" && seg[j] !== input[at + j]) return false;
    return true;
  };
  return (model: string) => {
    const input = Array.from(model);
    const first = segments[0]!;
    if (!hasStar) return input.length === first.length && segAt(input, first, 0);
    const last = segments[segments.length - 1]!;
    if (first.length + last.length > input.length) return false;
    if (!segAt(input, first, 0) || !segAt(input, last, input.length - last.length)) return false;
    let pos = first.length;
    const end = input.length - last.length;
    for (let s = 1; s < segments.length - 1; s++) {
      const seg = segments[s]!;
      let found = -1;
      for (let at = pos; at + seg.length <= end; at++) {
        if (segAt(input, seg, at)) {
          found = at;
          break;
        }
      }
      if (found < 0) return false;
      pos = found + seg.length;
    }
    return true;
  };
}

interface Group {
  /** A quantifier appears somewhere inside (nested groups included). */
  quantified: boolean;
  /** A `|` appears directly or in a nested group. */
  alternation: boolean;
}

const QUANT_BRACE = /^\{(\d+)(,(\d*))?\}/;

/** Rejects regex features that can backtrack catastrophically, then checks the syntax. */
function checkRegex(pattern: string, param: string): void {
  const stack: Group[] = [{ quantified: false, alternation: false }];
  /** The group just closed, while its possible quantifier is read. */
  let closed: Group | null = null;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    // A quantifier applies to the previous atom; if that was a group, check what it holds.
    let quant: { len: number; repeats: boolean } | null = null;
    if (c === "*" || c === "+") quant = { len: 1, repeats: true };
    else if (c === "?") quant = { len: 1, repeats: false };
    else if (c === "{") {
      const m = QUANT_BRACE.exec(pattern.slice(i));
      if (m) {
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
        quant = { len: m[0].length, repeats: max > 1 };
      }
    }
    if (quant) {
      if (closed && quant.repeats) {
        if (closed.quantified) {
          throw invalid(param, `unsafe regex: nested quantifier at offset ${i} (a repeated group that itself contains a quantifier, like '(a+)+') can backtrack catastrophically`);
        }
        if (closed.alternation) {
          throw invalid(param, `unsafe regex: repeated alternation at offset ${i} (like '(a|aa)+') can backtrack catastrophically; use a character class such as '[ab]+' instead`);
        }
      }
      stack[stack.length - 1]!.quantified = true;
      i += quant.len;
      if (pattern[i] === "?") i++; // lazy modifier
      closed = null;
      continue;
    }
    closed = null;
    if (c === "\\") {
      const n = pattern[i + 1];
      if (n !== undefined && /[1-9]/.test(n)) throw invalid(param, `unsafe regex: backreference '\\${n}' at offset ${i} is not allowed`);
      if (n === "k" && pattern[i + 2] === "<") throw invalid(param, `unsafe regex: named backreference at offset ${i} is not allowed`);
      i += 2;
      continue;
    }
    if (c === "[") {
      // Skip the class: `]` right after `[` or `[^` is still a member in non-unicode mode, but under the `u` flag it closes an empty class.
      i++;
      if (pattern[i] === "^") i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
      continue;
    }
    if (c === "(") {
      if (pattern.startsWith("(?=", i) || pattern.startsWith("(?!", i) || pattern.startsWith("(?<=", i) || pattern.startsWith("(?<!", i)) {
        throw invalid(param, `unsafe regex: lookaround at offset ${i} is not allowed`);
      }
      stack.push({ quantified: false, alternation: false });
      if (pattern.startsWith("(?:", i)) i += 3;
      else if (pattern.startsWith("(?<", i)) {
        const close = pattern.indexOf(">", i);
        i = close < 0 ? pattern.length : close + 1;
      } else i++;
      continue;
    }
    if (c === ")") {
      if (stack.length === 1) break; // unbalanced: let the RegExp constructor word it
      const g = stack.pop()!;
      const parent = stack[stack.length - 1]!;
      parent.quantified ||= g.quantified;
      parent.alternation ||= g.alternation;
      closed = g;
      i++;
      continue;
    }
    if (c === "|") stack[stack.length - 1]!.alternation = true;
    i++;
  }
  try {
    new RegExp(pattern, "u");
  } catch (err) {
    throw invalid(param, `not a valid regular expression: ${(err as Error).message}`);
  }
}
