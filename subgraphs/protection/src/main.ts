import "reflect-metadata";
import { closeOnSignal, createLogger, exitOnStartFailure, loadConfig, runSubgraph } from "../../common/src";
import { protectionSubgraph } from ".";

const config = loadConfig(process.env, "protection");
const log = createLogger("protection", config.logLevel);
runSubgraph(protectionSubgraph, config, { log }).then(
  (server) => closeOnSignal(() => server.close(), log),
  exitOnStartFailure("protection", log),
);
