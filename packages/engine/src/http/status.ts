export { reasonPhrase } from '@proxyscope/protocol';

/** Responses that never carry a body, whatever their headers say. */
export function statusHasNoBody(status: number): boolean {
  return (status >= 100 && status < 200) || status === 204 || status === 304;
}
