import { EXIT } from './cli-args';

/**
 * A serving command's last step: wait for Ctrl-C (SIGINT) or SIGTERM, then `close` and
 * exit 0, or 1 when closing failed. `name` is the command, as its messages name it.
 */
export function untilSignal(name: string, close: () => Promise<void>, log: (line: string) => void, err: (line: string) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log(`\n${name}: ${signal}, shutting down`);
      close().then(
        () => resolve(EXIT.OK),
        (e) => {
          err(`${name}: shutdown failed: ${(e as Error).message}`);
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
