import "reflect-metadata";
import { closeOnSignal, createLogger, exitOnStartFailure, loadConfig } from "../../subgraphs/common/src";
import { startGateway } from "./server";

const config = loadConfig(process.env, "gateway");
const log = createLogger("gateway", config.logLevel);
startGateway(config, log).then(
  (gateway) => {
    closeOnSignal(() => gateway.close(), log);
    // SIGHUP: load SUPERGRAPH_PATH again (after `npm run compose`) without a restart.
    process.on("SIGHUP", () => void gateway.reloadSupergraph().catch(() => undefined));
  },
  exitOnStartFailure("gateway", log),
);
