import "reflect-metadata";
import { closeOnSignal, createLogger, loadConfig } from "../../subgraphs/common/src";
import { startGateway } from "./server";

const config = loadConfig();
const log = createLogger("gateway", config.logLevel);
startGateway(config, log).then(
  (gateway) => closeOnSignal(() => gateway.close(), log),
  (err) => {
    log.fatal({ err }, "gateway failed to start");
    process.exit(1);
  },
);
