/** Markdown → sanitized HTML with highlighted code blocks (model output is untrusted). */
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import { Marked } from "marked";

for (const [name, lang] of Object.entries({ bash, css, javascript, json, python, rust, sql, typescript, xml, yaml })) hljs.registerLanguage(name, lang);

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    code({ text, lang }) {
      const language = lang && hljs.getLanguage(lang) ? lang : undefined;
      const html = language ? hljs.highlight(text, { language }).value : escapeHtml(text);
      return `<pre><code class="hljs${language ? ` language-${language}` : ""}">${html}</code></pre>`;
    },
  },
});

/** Markdown → HTML with highlighted code, NOT sanitized (tests; the page uses renderMarkdown). */
export function markdownToHtml(text: string): string {
  return marked.parse(text, { async: false }) as string;
}

/** Markdown → HTML safe to insert: DOMPurify removes scripts, handlers and javascript: URLs. */
export function renderMarkdown(text: string): string {
  return DOMPurify.sanitize(markdownToHtml(text), { USE_PROFILES: { html: true } });
}
