import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import type { SiemContext } from "../../context";
import { ImportSigmaRulesPayload, SigmaImportOptions } from "./sigma.types";

@Resolver()
export class SigmaResolver {
  @Authorized(Role.ADMIN)
  @Mutation(() => ImportSigmaRulesPayload, {
    description:
      "Imports Sigma rules (ADMIN) as analytics rules: one or more YAML documents separated by `---` (rule collections with `action: global`, `reset` and `repeat` included). Each rule is created, or — when a rule with its Sigma `id` was imported before — updated; event_count and value_count correlation rules become summarised scheduled rules over the rules of the import they refer to, which are not imported on their own unless `generate: true`. A rule that cannot be evaluated exactly (unknown log source or field, unsupported modifier, keyword search, temporal correlation…) is rejected with its reasons and the others are kept. New rules start disabled unless `options.enabled`. See docs/sigma.md for what translates.",
  })
  importSigmaRules(
    @Arg("yaml", {
      description: "Sigma rules as YAML (multi-document), at most 256 KiB and 100 rules.",
    })
    yaml: string,
    @Arg("options", () => SigmaImportOptions, {
      nullable: true,
      description: "How the rules are set up (enabled, kind, schedule, alert per result).",
    })
    options: SigmaImportOptions | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.sigma.import(yaml, options);
  }
}
