/** Longest key of a free-form object under a grammar. */
export const MAX_KEY_LENGTH = 64;

/**
 * Rewrites the GBNF node-llama-cpp generates from a JSON schema so that every
 * output is finite JSON that parses to what the schema allows:
 * - the root rule is renamed and wrapped between a literal prefix and suffix, and
 *   the newlines node-llama-cpp appends for its own stop trigger are dropped, so the
 *   model can only stop where the JSON (and suffix) ends;
 * - integers lose the exponent (`3e-5` is not an integer; `1e400` parses to Infinity) and keep
 *   at most 15 digits (safe JavaScript integers);
 * - fractional exponents keep at most two digits (finite doubles);
 * - keys of free-form objects are bounded (an unbounded string need never end).
 * Throws when the generated grammar does not have the expected shape (a changed
 * node-llama-cpp), rather than compiling something unbounded.
 */
export function wrapJsonGrammar(gbnf: string, prefix: string, suffix: string): string {
  const rootRule = /^root ::= (.*) "\\n\\n\\n\\n" \[\\n\]\*$/m;
  if (!rootRule.test(gbnf)) throw new Error("unexpected grammar shape from node-llama-cpp (root rule)");
  const exponent = ' ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';
  let body = gbnf.replace(rootRule, "llmux-json ::= $1");
  // At most 15 digits: every integer stays a safe JavaScript integer (|n| < 2^53), which also
  // makes the `minimum`/`maximum` that zod writes for `.int()` hold (json-schema.ts accepts them).
  body = body.replace(/^(integer-number-rule ::= .*)$/m, (line) => line.replace(exponent, "").replace('[1-9] [0-9]{0,15}', "[1-9] [0-9]{0,14}"));
  body = body.replace(/^(fractional-number-rule ::= .*)$/m, (line) => line.replace(exponent, " ([eE] [-+]? [0-9]{1,2})?"));
  body = body.replace(/^string-rule ::= "\\"" string-char-rule\* "\\""$/m, `string-rule ::= "\\"" string-char-rule{0,${MAX_KEY_LENGTH}} "\\""`);
  if (/[eE]\] \[-\+\]\? \("0"/.test(body)) throw new Error("unexpected grammar shape from node-llama-cpp (number exponent)");
  if (/^integer-number-rule ::= .*\{0,15\}/m.test(body)) throw new Error("unexpected grammar shape from node-llama-cpp (integer digits)");
  if (/string-char-rule\*/.test(body)) throw new Error("unexpected grammar shape from node-llama-cpp (unbounded string)");
  const literal = (s: string) => (s ? ` ${JSON.stringify(s)}` : "");
  return `root ::=${literal(prefix)} llmux-json${literal(suffix)}\n${body}`;
}
