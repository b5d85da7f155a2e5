import { createRequire } from "node:module";
import type { errors as UndiciErrors, Pool as UndiciPool } from "undici";

const require = createRequire(import.meta.url);

/*
 * The two parts of undici the gateway uses, required from their own files. `import "undici"`
 * loads the whole package (fetch, WebSocket, EventSource, cache stores, the mock agent, proxy
 * and retry agents): measured, 3.0 MiB more of V8 heap and ~8 MiB more RSS for code the server
 * never runs. undici is pinned (package.json) and publishes no `exports` map, so these paths
 * are part of what we pin; the types still come from undici's own declarations.
 */

/** undici's connection pool to one origin (`undici/lib/dispatcher/pool.js`). */
export const Pool = require("undici/lib/dispatcher/pool.js") as typeof UndiciPool;
export type Pool = UndiciPool;

/** undici's error classes (`undici/lib/core/errors.js`), for `instanceof` on what a pool rejects with. */
export const undiciErrors = require("undici/lib/core/errors.js") as typeof UndiciErrors;
