/** A run of the engine in this page: config and scenario as YAML text, loaded in the worker as the CLI loads files. */
export interface InPageRun {
  config: string;
  configName: string;
  scenario: string;
  scenarioName: string;
  seed?: number;
  speed: 1 | 10 | 'max';
  paused: boolean;
}

/** Page to worker. `connect`/`message`/`disconnect` are one viewer's stream, as a WebSocket would carry it. */
export type ToWorker =
  | { type: 'start'; run: InPageRun }
  | { type: 'connect'; socket: number }
  | { type: 'message'; socket: number; text: string }
  /** the page has taken `bytes` of what the worker sent (the worker's flow control) */
  | { type: 'read'; socket: number; bytes: number }
  | { type: 'disconnect'; socket: number };

/** Worker to page. */
export type FromWorker =
  /** the run loaded and started: viewers may connect */
  | { type: 'ready' }
  /** the config or scenario did not load: each line as `proxyscope simulate` prints it (file:line: field: message) */
  | { type: 'problems'; problems: string[] }
  | { type: 'frame'; socket: number; text: string }
  | { type: 'closed'; socket: number; reason: string };
