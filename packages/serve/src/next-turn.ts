/**
 * Runs `fn` on the next turn of the event loop, after pending I/O: setImmediate in Node;
 * in a browser or worker (which has none) a MessageChannel message, which unlike
 * setTimeout(0) is not clamped to 4 ms when it repeats.
 */
export const nextTurn: (fn: () => void) => void = (() => {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  if (immediate) return (fn: () => void) => void immediate(fn);
  const queue: Array<() => void> = [];
  const channel = new MessageChannel();
  // `onmessage` starts the port (addEventListener would not); Node's typings lack it, hence the cast.
  (channel.port1 as unknown as { onmessage: () => void }).onmessage = () => queue.shift()?.();
  return (fn: () => void) => {
    queue.push(fn);
    channel.port2.postMessage(undefined);
  };
})();

/** A timer that must not keep Node running (browsers have no such notion). */
export function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

/** A process warning in Node, the console elsewhere. */
export function warn(message: string): void {
  const proc = (globalThis as { process?: { emitWarning?: (m: string) => void } }).process;
  if (proc?.emitWarning) proc.emitWarning(message);
  else console.warn(message);
}
