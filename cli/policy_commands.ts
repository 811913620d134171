/**
 * `lts check` and `lts explain`: validate a policy file, and ask it what it
 * would do with a call, without any network.
 *
 * @module
 */

import { loadPolicyFile } from "../policies/mod.ts";
import { endpointKey } from "../transport/datagram.ts";
import { type Command, Exit, type Io, parse, UsageError } from "./command.ts";

/** `lts check`. */
export const checkCommand: Command = {
  name: "check",
  summary: "validate a policy file; errors as file:line:col: message",
  usage: `lts check --config FILE

Parses and validates a policy (YAML) as lts run would load it. Prints every
error as FILE:LINE:COL: MESSAGE and exits 1, or prints a one-line summary and
exits 0.`,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, { options: { config: { type: "string" } } });
    if (values.config === undefined) throw new UsageError("--config FILE is required");
    const r = await loadPolicyFile(values.config);
    if (!r.ok) {
      for (const e of r.error) io.err(e.toString());
      return Exit.Failure;
    }
    const c = r.value.config;
    io.out(
      `${values.config}: ok — ${c.rules.length} rules, ${c.upstreams.size} upstreams, ${c.lacs.length} lacs entries`,
    );
    return Exit.Ok;
  },
};

/** `lts explain`. */
export const explainCommand: Command = {
  name: "explain",
  summary: "print what the policy would do with a call, as JSON, without any network",
  usage:
    `lts explain --config FILE [--user NAME] [--lac-hostname H] [--lac-address IP] [--called N] [--calling N]

Prints the decision as JSON: {"rule":...,"action":"forward"|"reject"|"terminate",
"upstream":...,"members":["addr:port",...],"missed":[{"rule":...,"reasons":[...]}]}.
"members" lists the candidates in the strategy's order (live health aside).`,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, {
      options: {
        config: { type: "string" },
        user: { type: "string" },
        "lac-hostname": { type: "string" },
        "lac-address": { type: "string" },
        called: { type: "string" },
        calling: { type: "string" },
      },
    });
    if (values.config === undefined) throw new UsageError("--config FILE is required");
    const r = await loadPolicyFile(values.config);
    if (!r.ok) {
      for (const e of r.error) io.err(e.toString());
      return Exit.Failure;
    }
    const e = r.value.explain({
      user: values.user,
      lacHostname: values["lac-hostname"],
      lacAddress: values["lac-address"],
      calledNumber: values.called,
      callingNumber: values.calling,
    });
    const d = e.decision;
    io.out(JSON.stringify({
      rule: d.rule,
      action: d.action,
      ...(d.action === "forward"
        ? { upstream: d.upstream, members: d.members.map((m) => endpointKey(m.address)) }
        : {}),
      ...(d.action === "reject"
        ? { resultCode: d.resultCode, ...(d.message === undefined ? {} : { message: d.message }) }
        : {}),
      ...(e.user === undefined ? {} : { user: e.user }),
      ...(e.domain === undefined ? {} : { domain: e.domain }),
      missed: e.missed.map((m) => ({ rule: m.rule, reasons: m.reasons })),
    }));
    return Exit.Ok;
  },
};
