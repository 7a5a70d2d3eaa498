/** The process entry point: configuration, logging, listening and signals. */
import { ConfigError, type ConfigWarning, loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { buildApp } from './app.ts';

async function main(): Promise<void> {
  // Held until the logger exists, which needs the configuration's level.
  const warnings: ConfigWarning[] = [];
  const config = loadConfig(undefined, (warning) => warnings.push(warning));
  const logger = createLogger(config.logLevel);
  for (const { variable, message } of warnings) {
    logger.warn({ variable }, message);
  }
  // A rejection nobody handled is a bug to fix (and a test to write), not a reason to drop every
  // other client's connections: logged, with its stack, while the process goes on serving.
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error({ err: reason }, 'unhandled rejection');
  });
  const app = buildApp({ config, logger });
  const url = await app.start();
  logger.info(
    {
      homeserver: config.homeserverUrl,
      ...(config.cluster === null ? {} : { instanceId: config.cluster.instanceId }),
    },
    `GraphQL facade listening on ${url}/graphql`,
  );

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  // A bad setting, found by loadConfig or while building the app (a trusted-documents manifest
  // that does not load): its message alone, and status 2, before anything listens.
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
