import { HttpParser } from '@proxyscope/engine/codec/llhttp-parser';
import type { Simulation } from '@proxyscope/engine/sim';
import { ControlError } from './control-error';
import type { SendTransport } from './request-sender';

/**
 * `send_request` in a simulation: the request goes over the simulated network to the
 * listener (a downstream client dialling it, as the scenario's traffic does), its answer
 * is read with llhttp, and its timeout and duration are virtual time. It is sent at the
 * current virtual time; while the clock is paused it waits with everything else. The
 * scenario's summary does not count it (it carries no `x-sim-request`).
 */

const LIMITS = { maxHeaderBytes: 96 * 1024, maxHeadersCount: 200 };
/** where the UI's requests come from on the simulated network */
const UI_CLIENT_ADDRESS = '10.254.0.1';

export function simSendTransport(sim: Simulation): SendTransport {
  let nextPort = 40_000;
  return {
    now: () => sim.now(),
    setTimeout: (fn, ms) => sim.clock.setTimeout(fn, ms),
    clearTimeout: (timer) => sim.clock.clearTimeout(timer),
    dial(target, request, exchange) {
      const colon = target.bound.lastIndexOf(':');
      const address = target.bound.slice(0, colon);
      const port = Number(target.bound.slice(colon + 1));
      const socket = sim.network.dial(address, port, [UI_CLIENT_ADDRESS, nextPort]);
      nextPort = nextPort >= 65_000 ? 40_000 : nextPort + 1;
      if (!socket) throw new ControlError('control_failed', `send_request: nothing listens on ${target.bound} in the simulation`);
      let status = 0;
      let done = false;
      const settle = (outcome: 'end' | { code: 'connection_reset' | 'failed'; message: string }): void => {
        if (done) return;
        done = true;
        parser.destroy();
        socket.destroy();
        if (outcome === 'end') exchange.onEnd();
        else exchange.onError(outcome);
      };
      const parser = new HttpParser(
        'response',
        {
          onMessageBegin: () => {},
          onHeadersComplete: (head) => {
            status = head.statusCode ?? 0;
            if (status >= 100 && status < 200) return 'continue';
            exchange.onResponse(status, head.headers);
            return request.method === 'HEAD' ? 'skip-body' : 'continue';
          },
          onBody: (chunk) => {
            exchange.onData(chunk.slice());
            return 'continue';
          },
          onMessageComplete: () => {
            if (status < 100 || status >= 200) settle('end');
            return 'continue';
          },
        },
        LIMITS,
      );
      socket.setHandlers({
        onData: (chunk) => {
          if (done) return;
          const result = parser.execute(chunk);
          if (result.kind === 'error') settle({ code: 'failed', message: `the response could not be read: ${result.reason}` });
        },
        onEnd: () => {
          if (done) return;
          // A response delimited by the close ends here; anything else was cut short.
          parser.finish();
          settle({ code: 'connection_reset', message: 'the connection closed before the response ended' });
        },
        onClose: (error) => settle({ code: 'connection_reset', message: error ? error.message : 'the connection closed before the response ended' }),
        onDrain: () => {},
      });
      let head = `${request.method} ${request.path} HTTP/1.1\r\n`;
      for (const [name, value] of Object.entries(request.headers)) head += `${name}: ${value}\r\n`;
      head += 'connection: close\r\n\r\n';
      socket.write(head);
      if (request.body !== undefined && request.body.length > 0) socket.write(new Uint8Array(request.body));
      return () => {
        done = true;
        parser.destroy();
        socket.destroy();
      };
    },
  };
}
