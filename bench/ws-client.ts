/**
 * Benchmark stream client: one WebSocket viewer subscribed to everything, decoding every
 * batch as a viewer would. Run by bench/run.ts as a child process:
 *
 *   node --import tsx bench/ws-client.ts ws://127.0.0.1:PORT/ws [--stall]
 *
 * Prints `HELLO` once the server greeted it, then a JSON line of cumulative counts every
 * 200 ms: events decoded, bytes, batches, events announced as dropped, last seq. With
 * --stall it stops reading right after `hello` (its socket is paused) until it reads
 * `resume` on stdin.
 */
import readline from 'node:readline';
import { decodeEventBatch, type ServerMessage } from '@proxyscope/protocol';
import { WebSocket } from 'ws';

const url = process.argv[2];
const stall = process.argv.includes('--stall');
if (!url) {
  process.stderr.write('usage: ws-client.ts ws://HOST:PORT/ws [--stall]\n');
  process.exit(2);
}

const counts = { events: 0, bytes: 0, batches: 0, dropped: 0, droppedNotices: 0, lastSeq: 0, errors: 0, firstEventAt: 0, lastEventAt: 0 };
const ws = new WebSocket(url, { perMessageDeflate: false });
const socket = () => (ws as unknown as { _socket: import('node:net').Socket })._socket;

ws.on('message', (data: Buffer) => {
  counts.bytes += data.length;
  const message = JSON.parse(data.toString('utf8')) as ServerMessage;
  switch (message.type) {
    case 'hello':
      process.stdout.write('HELLO\n');
      if (stall) socket().pause();
      break;
    case 'events': {
      const events = decodeEventBatch(message);
      counts.events += events.length;
      counts.batches++;
      counts.lastSeq = events[events.length - 1]!.seq;
      counts.lastEventAt = Date.now();
      if (counts.firstEventAt === 0) counts.firstEventAt = counts.lastEventAt;
      break;
    }
    case 'dropped':
      counts.dropped += message.count;
      counts.droppedNotices++;
      break;
    case 'error':
      counts.errors++;
      break;
    default:
      break;
  }
});
ws.on('error', (err) => {
  process.stderr.write(`ws-client: ${err.message}\n`);
  process.exit(1);
});
ws.on('close', () => process.exit(0));

setInterval(() => process.stdout.write(JSON.stringify(counts) + '\n'), 200);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'resume') socket().resume();
});
process.on('SIGTERM', () => process.exit(0));
