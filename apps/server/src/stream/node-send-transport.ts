import http from 'node:http';
import type { RequestErrorCode } from '@proxyscope/protocol';
import { ControlError, type SendTransport } from '@proxyscope/serve';

/** node:http, its own connection per request (no agent), to the listener on loopback. */
export const nodeSendTransport: SendTransport = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  dial(target, request, exchange) {
    let req: http.ClientRequest;
    try {
      req = http.request({ host: target.host, port: target.port, method: request.method, path: request.path, headers: request.headers, agent: false, setHost: false });
    } catch (err) {
      throw new ControlError('control_failed', `send_request: ${(err as Error).message}`);
    }
    let gaveUp = false;
    req.on('response', (res) => {
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
      exchange.onResponse(res.statusCode ?? 0, pairs);
      res.on('data', (chunk: Buffer) => exchange.onData(chunk));
      res.on('end', () => exchange.onEnd());
      res.on('error', () => {});
      res.on('close', () => {
        if (!res.complete && !gaveUp) exchange.onError({ code: 'connection_reset', message: 'the connection closed before the response ended' });
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!gaveUp) exchange.onError(describeError(err));
    });
    req.end(request.body);
    return (reason) => {
      gaveUp = true;
      req.destroy(Object.assign(new Error(reason.message), { code: 'ABORTED' }));
    };
  },
};

function describeError(err: NodeJS.ErrnoException): { code: RequestErrorCode; message: string } {
  switch (err.code) {
    case 'ECONNREFUSED':
      return { code: 'connection_refused', message: `connection refused (${err.message})` };
    case 'ECONNRESET':
    case 'EPIPE':
      return { code: 'connection_reset', message: err.message };
    default:
      return { code: 'failed', message: err.message };
  }
}
