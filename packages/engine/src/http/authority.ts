/**
 * Host / :authority validation, after Envoy's HeaderUtility::authorityIsValid, which the
 * HTTP/1 codec runs on every request head (HeaderUtility::requestHeadersValid; a failure
 * is a 400 with details `http.invalid_authority`).
 *
 * Envoy checks characters only, against a table that also lets `@` through (HTTP/1
 * userinfo). This follows the grammar itself, RFC 9110 §7.2 and RFC 3986 §3.2.2-3.2.3:
 *
 *   Host       = uri-host [ ":" port ]
 *   uri-host   = IP-literal / IPv4address / reg-name
 *   IP-literal = "[" ( IPv6address / IPvFuture ) "]"
 *   reg-name   = *( unreserved / pct-encoded / sub-delims )
 *   port       = *DIGIT
 *
 * so userinfo (`user@host`, deprecated by RFC 9110 §4.2.4, a recipient SHOULD treat it as
 * an error), spaces, `/`, `\`, control characters and stray `:` or `%` are all refused.
 */

// unreserved and sub-delims, plus %XX escapes
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const PORT = /^[0-9]*$/;
// The characters an IPv6 address (with an embedded IPv4 tail) can have; the shape of the
// address is the resolver's business, as it is Envoy's.
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const IPV_FUTURE = /^v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/i;

/** True if `value` is a valid HTTP/1 Host header value (or absolute-form authority without userinfo). */
export function authorityIsValid(value: string): boolean {
  let port = '';
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return false;
    const literal = value.slice(1, close);
    if (!IPV6.test(literal) && !IPV_FUTURE.test(literal)) return false;
    const after = value.slice(close + 1);
    if (after !== '') {
      if (after[0] !== ':') return false;
      port = after.slice(1);
    }
    return PORT.test(port);
  }
  const colon = value.lastIndexOf(':');
  const host = colon < 0 ? value : value.slice(0, colon);
  if (colon >= 0) port = value.slice(colon + 1);
  return REG_NAME.test(host) && PORT.test(port);
}
