import "reflect-metadata";
import { closeOnSignal, createLogger, exitOnStartFailure, loadConfig, runSubgraph } from "../../common/src";
import { siemSubgraph } from ".";

const config = loadConfig(process.env, "siem");
const log = createLogger("siem", config.logLevel);
runSubgraph(siemSubgraph, config, { log }).then(
  (server) => closeOnSignal(() => server.close(), log),
  exitOnStartFailure("siem", log),
);
