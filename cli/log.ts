/**
 * Logging for the CLI: @logtape/logtape with one category per actor kind
 * (`lts.tunnel`, `lts.session`, `lts.switch`, `lts.node`, `lts.policy`),
 * written to stderr as text or JSON lines.
 *
 * @module
 */

import {
  configure,
  getStreamSink,
  getTextFormatter,
  jsonLinesFormatter,
  type LogLevel,
  reset,
} from "@logtape/logtape";

/** Log formats `--log-format` accepts. */
export type LogFormat = "pretty" | "json";

/** Routes every `lts.*` category at `level` and above to stderr. */
export async function setupLogging(level: LogLevel, format: LogFormat): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      stderr: getStreamSink(Deno.stderr.writable, {
        formatter: format === "json"
          ? jsonLinesFormatter
          : getTextFormatter({ timestamp: "date-time" }),
      }),
    },
    loggers: [
      { category: ["lts"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Flushes and removes the sinks (so Deno sees no open stream at exit). */
export async function stopLogging(): Promise<void> {
  await reset();
}
