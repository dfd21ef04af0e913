/**
 * Extensions::ListenerFilters::TlsInspector: peeks at a new connection's first bytes to
 * tell TLS from plaintext and, for TLS, read the SNI and ALPN list of the ClientHello, so
 * that filter chain matching (server_names, transport_protocol) can use them before any
 * handshake. Pure byte parsing: it runs the same in simulation and live.
 */
export interface ClientHelloInfo {
  /** `tls` or `raw_buffer`, Envoy's transport protocol names */
  transportProtocol: 'tls' | 'raw_buffer';
  serverName?: string;
  alpn: string[];
}

/** TlsInspector's default max_client_hello_size. */
export const MAX_CLIENT_HELLO = 16 * 1024;

const HANDSHAKE_RECORD = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;

/**
 * TlsInspector::parseClientHello over what has arrived so far: the answer, or 'more'
 * while the ClientHello record is incomplete. Anything that is not a TLS handshake
 * record (an HTTP request line, say) is raw_buffer at once.
 */
export function inspectClientHello(bytes: Uint8Array): ClientHelloInfo | 'more' {
  const plain: ClientHelloInfo = { transportProtocol: 'raw_buffer', alpn: [] };
  if (bytes.length === 0) return 'more';
  if (bytes[0] !== HANDSHAKE_RECORD) return plain;
  if (bytes.length < 5) return 'more';
  if (bytes[1] !== 0x03) return plain;
  const recordLength = (bytes[3]! << 8) | bytes[4]!;
  // A record longer than the inspector reads is not parsed (client_hello_too_large): TLS, no SNI.
  if (recordLength + 5 > MAX_CLIENT_HELLO) return { transportProtocol: 'tls', alpn: [] };
  if (bytes.length < 5 + recordLength) return 'more';
  const record = bytes.subarray(5, 5 + recordLength);
  if (record[0] !== CLIENT_HELLO) return plain;
  const info: ClientHelloInfo = { transportProtocol: 'tls', alpn: [] };
  const reader = new Reader(record, 4); // msg_type(1) + length(3)
  reader.skip(2 + 32); // legacy_version, random
  reader.skip(reader.u8()); // legacy_session_id
  reader.skip(reader.u16()); // cipher_suites
  reader.skip(reader.u8()); // legacy_compression_methods
  if (!reader.ok || reader.remaining < 2) return info;
  const end = reader.offset + reader.u16();
  while (reader.ok && reader.offset + 4 <= end) {
    const type = reader.u16();
    const length = reader.u16();
    const body = new Reader(reader.take(length), 0);
    if (type === EXT_SERVER_NAME) {
      const listEnd = body.u16() + 2;
      while (body.ok && body.offset < listEnd) {
        const nameType = body.u8();
        const name = body.take(body.u16());
        if (nameType === 0 && body.ok) info.serverName = new TextDecoder().decode(name).toLowerCase();
      }
    } else if (type === EXT_ALPN) {
      const listEnd = body.u16() + 2;
      while (body.ok && body.offset < listEnd) {
        const proto = body.take(body.u8());
        if (body.ok) info.alpn.push(new TextDecoder().decode(proto));
      }
    }
  }
  return info;
}

class Reader {
  ok = true;
  constructor(
    private readonly bytes: Uint8Array,
    public offset: number,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    if (this.remaining < 1) return this.fail();
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    if (this.remaining < 2) return this.fail();
    const v = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  skip(n: number): void {
    if (this.remaining < n) this.fail();
    else this.offset += n;
  }

  take(n: number): Uint8Array {
    if (this.remaining < n) {
      this.fail();
      return new Uint8Array(0);
    }
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  private fail(): number {
    this.ok = false;
    this.offset = this.bytes.length;
    return 0;
  }
}
