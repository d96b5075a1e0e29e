import "reflect-metadata";
import { closeOnSignal, createLogger, exitOnStartFailure, loadConfig, runSubgraph } from "../../common/src";
import { postureSubgraph } from ".";

const config = loadConfig(process.env, "posture");
const log = createLogger("posture", config.logLevel);
runSubgraph(postureSubgraph, config, { log }).then(
  (server) => closeOnSignal(() => server.close(), log),
  exitOnStartFailure("posture", log),
);
