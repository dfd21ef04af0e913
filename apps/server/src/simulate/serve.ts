import { EXIT } from '../cli-args';
import type { LoadedRun, SimulateCli } from './simulate';

/** `proxyscope simulate --serve`: the run served to the web UI on virtual time. */
export async function serveSimulation(_cli: SimulateCli, _run: LoadedRun, _log: (line: string) => void, err: (line: string) => void): Promise<number> {
  err('proxyscope: simulate --serve is not available yet');
  return EXIT.FAILURE;
}
