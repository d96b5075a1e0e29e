import "reflect-metadata";
import { closeOnSignal, createLogger, loadConfig, runSubgraph } from "../../common/src";
import { siemSubgraph } from ".";

const config = loadConfig();
const log = createLogger("siem", config.logLevel);
runSubgraph(siemSubgraph, config, { log }).then(
  (server) => closeOnSignal(() => server.close(), log),
  (err) => {
    log.fatal({ err }, "siem failed to start");
    process.exit(1);
  },
);
