import {
  ERROR_CODES,
  WS_PROTOCOL_VERSION,
  type ClientMessage,
  type ErrorCode,
  type ErrorMessage,
  type HelloMessage,
  type MessageId,
  type Subscription,
  validateClientMessage,
} from '@proxyscope/protocol';
import { ControlError } from './control-error';
import type { ClientLimits, StreamClient } from './stream-client';
import type { StreamSource } from './stream-source';

/**
 * What a stream endpoint does with a viewer, whatever carries its messages: the `hello` it
 * gets first, and each validated client message carried out on the source. The admin
 * server's WebSocket endpoint and the web UI's in-page engine both use these, so a viewer
 * cannot tell them apart.
 */

export interface EndpointLimits {
  maxMessageBytes: number;
  maxSendRequestBytes: number;
  limits: ClientLimits;
}

/** The `hello` a client gets on connecting; `sendHistory`: the history (and its snapshot) follow. */
export function helloMessage(source: StreamSource, subscription: Subscription | null, sendHistory: boolean, bounds: EndpointLimits): HelloMessage {
  const hello = source.hello();
  const sendRequest = source.sendRequestLimits && { ...source.sendRequestLimits, maxMessageBytes: bounds.maxSendRequestBytes };
  return {
      type: 'hello',
      protocol: WS_PROTOCOL_VERSION,
      mode: source.mode,
      ...hello,
      // What is about to come: nothing when the client opted out.
      history: sendHistory ? hello.history : { events: 0 },
      snapshot: sendHistory ? hello.snapshot : undefined,
      subscription,
      limits: {
        maxMessageBytes: bounds.maxMessageBytes,
        batchMs: source.batchMs,
        maxBatchEvents: bounds.limits.maxBatchEvents,
        maxQueuedEvents: bounds.limits.maxQueuedEvents,
        ...(sendRequest ? { sendRequest } : {}),
      },
  };
}

/** How large a viewer's message may be: any message, and a send_request (it carries a request body). */
export interface MessageBounds {
  maxMessageBytes: number;
  maxSendRequestBytes: number;
}

/**
 * One text frame from a viewer, `bytes` long: the size limits, JSON, validation, then the
 * message itself. The text is decoded only once the frame is known not to be too large
 * for any message.
 */
export function handleClientText(source: StreamSource, client: StreamClient, bytes: number, text: () => string, bounds: MessageBounds): void {
  const tooLarge = (value?: unknown): void => {
    // The id, when the message could be read, so the client knows which one was refused.
    const id = (value as { id?: unknown } | null | undefined)?.id;
    const known = (typeof id === 'string' && id.length <= 64) || (typeof id === 'number' && Number.isInteger(id));
    client.send({
      type: 'error',
      code: 'too_large',
      message: `message of ${bytes} bytes is larger than ${bounds.maxMessageBytes} (a send_request may have ${bounds.maxSendRequestBytes})`,
      ...(known ? { id: id as MessageId } : {}),
    });
  };
  if (bytes > Math.max(bounds.maxMessageBytes, bounds.maxSendRequestBytes)) return tooLarge();
  let value: unknown;
  try {
    value = JSON.parse(text());
  } catch (err) {
    if (bytes > bounds.maxMessageBytes) return tooLarge();
    return client.send({ type: 'error', code: 'bad_json', message: `not valid JSON (${(err as Error).message})` });
  }
  // Only a send_request (it carries a request body) may be larger than maxMessageBytes.
  if (bytes > bounds.maxMessageBytes && (bytes > bounds.maxSendRequestBytes || (value as { type?: unknown } | null)?.type !== 'send_request')) return tooLarge(value);
  const parsed = validateClientMessage(value);
  if (!parsed.ok) return client.send(parsed.error);
  dispatchClientMessage(source, client, parsed.message);
}

export function dispatchClientMessage(source: StreamSource, client: StreamClient, message: ClientMessage): void {
  const ack = (detail?: Record<string, unknown>) =>
    client.send({ type: 'ack', ...(message.id !== undefined ? { id: message.id } : {}), request: message.type, seq: source.lastSeq(), ...(detail ? { detail } : {}) });
  switch (message.type) {
    case 'ping':
      return ack();
    case 'subscribe': {
      const subscription: Subscription = {};
      if (message.filter) subscription.filter = message.filter;
      if (message.sample) subscription.sample = message.sample;
      client.resubscribe(subscription);
      // With the history comes the snapshot before it: say what it stands for, as hello does
      // for a client that subscribed on connecting.
      const snapshot = message.history ? source.hello().snapshot : undefined;
      ack(snapshot ? { snapshot } : undefined);
      source.resubscribe(client, subscription, message.history ?? false);
      return;
    }
    case 'unsubscribe':
      client.resubscribe(null);
      ack();
      source.resubscribe(client, null, false);
      return;
    case 'control': {
      let detail: Record<string, unknown>;
      try {
        detail = source.control(message.action);
      } catch (err) {
        return client.send(errorReply(err, message.id));
      }
      return ack(detail);
    }
    case 'send_request': {
      let detail: Record<string, unknown>;
      try {
        if (!source.sendRequest) throw new ControlError('not_supported', 'send_request: this server has no proxy to send requests through');
        detail = source.sendRequest(client, message);
      } catch (err) {
        return client.send(errorReply(err, message.id));
      }
      return ack(detail);
    }
    case 'breakpoints':
    case 'step':
    case 'resume': {
      let detail: Record<string, unknown>;
      try {
        if (!source.setBreakpoints || !source.step || !source.resume) {
          throw new ControlError('not_supported', `${message.type}: step mode holds live requests; this server replays a recording (move the time cursor instead)`);
        }
        detail =
          message.type === 'breakpoints' ? source.setBreakpoints(message) : message.type === 'step' ? source.step(message.stream) : source.resume(message.stream);
      } catch (err) {
        return client.send(errorReply(err, message.id));
      }
      return ack(detail);
    }
    case 'sim_clock':
      if (!source.simClock) {
        return client.send(errorReply(new ControlError('not_supported', `sim_clock: this server is in mode ${source.mode}; only a simulation (proxyscope simulate --serve) has a virtual clock`), message.id));
      }
      source.simClock(message).then(
        (detail) => ack(detail),
        (err: unknown) => client.send(errorReply(err, message.id)),
      );
      return;
    case 'host_fault':
      if (!source.hostFault) return client.send(errorReply(new ControlError('not_supported', 'host_fault: this server has no demo hosts'), message.id));
      source.hostFault(message).then(
        (detail) => ack(detail),
        (err: unknown) => client.send(errorReply(err, message.id)),
      );
      return;
  }
}


/** The `error` for a control that was refused or failed: a ControlError's code and field, else control_failed. */
export function errorReply(err: unknown, id: MessageId | undefined): ErrorMessage {
  const { code, field } = err as { code?: unknown; field?: unknown };
  const known = typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
  return {
    type: 'error',
    code: known ? (code as ErrorCode) : 'control_failed',
    message: err instanceof Error ? err.message : String(err),
    ...(typeof field === 'string' ? { field } : {}),
    ...(id !== undefined ? { id } : {}),
  };
}

