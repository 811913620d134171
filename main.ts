/**
 * `lts` entry point: `deno run -A main.ts <command>` from source, or the
 * compiled binary (`deno task compile`).
 *
 * @module
 */

import { main } from "./cli/mod.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
