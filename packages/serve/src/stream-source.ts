import type {
  BreakpointsMessage,
  ControlAction,
  DemoHostInfo,
  HelloMessage,
  HostFault,
  HostFaultMessage,
  SendRequestLimits,
  SendRequestMessage,
  SimClockMessage,
  Subscription,
} from '@proxyscope/protocol';
import type { StreamClient } from './stream-client';

/**
 * Where a stream's events come from: the running engine (live) or a trace file (replay).
 * The endpoint handles sockets, security and client messages; the source decides what a
 * client gets.
 */
export interface StreamSource {
  readonly mode: HelloMessage['mode'];
  /** the parts of `hello` the source knows */
  hello(): Pick<HelloMessage, 'engineVersion' | 'startedAt' | 'topology' | 'history' | 'snapshot' | 'controls' | 'trace' | 'hosts' | 'step' | 'simulation'>;
  /** batching interval announced in `hello` */
  readonly batchMs: number;
  /** bounds of `send_request`, when the source accepts it (announced in `hello.limits`) */
  readonly sendRequestLimits?: SendRequestLimits;
  /** a client connected (after its `hello`): start sending (history first, if it wants it) */
  attach(client: StreamClient, history: boolean): void;
  detach(client: StreamClient): void;
  /** the client replaced its subscription; with `history`, resend history under it */
  resubscribe(client: StreamClient, subscription: Subscription | null, history: boolean): void;
  /** newest seq known, for acks */
  lastSeq(): number;
  /** carries out a control action; returns details for the ack, or throws (a ControlError names the code) */
  control(action: ControlAction): Record<string, unknown>;
  /** starts a `send_request`; returns details for the ack (the `request_result` reaches the client later), or throws. Absent: not supported */
  sendRequest?(client: StreamClient, message: SendRequestMessage): Record<string, unknown>;
  /** applies a `host_fault`; resolves with details for the ack, or rejects. Absent: not supported */
  hostFault?(message: HostFaultMessage): Promise<Record<string, unknown>>;
  /** step mode (live only): `breakpoints`, `step`, `resume`; each returns details for the ack, or throws */
  setBreakpoints?(message: BreakpointsMessage): Record<string, unknown>;
  step?(stream: number): Record<string, unknown>;
  resume?(stream: number | undefined): Record<string, unknown>;
  /** a simulation's virtual clock: pause, resume, speed, advance; resolves with details for the ack. Absent: not a simulation */
  simClock?(message: SimClockMessage): Promise<Record<string, unknown>>;
}

/** An upstream host the UI can fault (the built-in demo's real hosts): what the live source needs of one. */
export interface ControlledHost {
  readonly name: string;
  /** its address as the engine sees it (`host:port`), for step mode's `when.host` */
  readonly address: string;
  info(): DemoHostInfo;
  apply(fault: HostFault): Promise<void>;
  onChange(listener: () => void): () => void;
}
