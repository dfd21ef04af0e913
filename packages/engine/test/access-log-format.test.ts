import { describe, expect, it } from 'vitest';
import {
  AccessLogFormatError,
  compileFormat,
  ENVOY_DEFAULT_FORMAT,
  type AccessLogContext,
} from '../src/accesslog/format';

function getter(headers: Record<string, string>): (name: string) => string | undefined {
  return (name) => headers[name];
}

const START = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

function typicalRequest(): AccessLogContext {
  return {
    startTime: START,
    requestHeaders: getter({
      ':method': 'GET',
      ':path': '/api/users?id=7',
      ':authority': 'example.com',
      ':scheme': 'http',
      'user-agent': 'curl/8.4.0',
      'x-request-id': '5b2d3f4e-0000-4000-8000-000000000001',
    }),
    responseHeaders: getter({ ':status': '200', 'x-envoy-upstream-service-time': '9' }),
    protocol: 'HTTP/1.1',
    responseCode: 200,
    responseCodeDetails: 'via_upstream',
    responseFlags: new Set(),
    bytesReceived: 0,
    bytesSent: 13,
    durationMs: 12.8,
    requestDurationMs: 0.4,
    responseDurationMs: 10.2,
    upstreamHost: '10.0.0.5:8080',
    upstreamCluster: 'backend',
    routeName: 'api',
    downstreamRemoteAddress: '127.0.0.1:53412',
    downstreamLocalAddress: '127.0.0.1:10000',
    attemptCount: 1,
  };
}

/** Connect failures on every attempt: router's local 503 after retries ran out. */
function localReplyUfUrx(): AccessLogContext {
  return {
    ...typicalRequest(),
    requestHeaders: getter({
      ':method': 'POST',
      ':path': '/orders',
      ':authority': 'shop.local:10000',
      'x-forwarded-for': '203.0.113.9',
    }),
    responseHeaders: getter({ ':status': '503', 'content-type': 'text/plain' }),
    responseCode: 503,
    responseCodeDetails: 'upstream_reset_before_response_started{remote_connection_failure}',
    responseFlags: ['URX', 'UF'],
    bytesReceived: 17,
    bytesSent: 91,
    durationMs: 75,
    responseDurationMs: undefined,
    upstreamTransportFailureReason: 'delayed connect error: 111',
    attemptCount: 3,
  };
}

describe('ENVOY_DEFAULT_FORMAT', () => {
  it('is Envoy default line, one line ending in a newline', () => {
    expect(ENVOY_DEFAULT_FORMAT).toBe(
      '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% ' +
        '%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% ' +
        '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n',
    );
  });

  const format = compileFormat(ENVOY_DEFAULT_FORMAT);

  it('renders a typical proxied request', () => {
    expect(format(typicalRequest())).toBe(
      '[2024-01-02T03:04:05.678Z] "GET /api/users?id=7 HTTP/1.1" 200 - 0 13 12 9 "-" "curl/8.4.0" ' +
        '"5b2d3f4e-0000-4000-8000-000000000001" "example.com" "10.0.0.5:8080"\n',
    );
  });

  it('renders a local reply with UF,URX', () => {
    expect(format(localReplyUfUrx())).toBe(
      '[2024-01-02T03:04:05.678Z] "POST /orders HTTP/1.1" 503 UF,URX 17 91 75 - "203.0.113.9" "-" "-" ' +
        '"shop.local:10000" "10.0.0.5:8080"\n',
    );
  });

  it('prefers x-envoy-original-path over :path', () => {
    const ctx = typicalRequest();
    const inner = ctx.requestHeaders;
    ctx.requestHeaders = (n) => (n === 'x-envoy-original-path' ? '/v1/api/users' : inner(n));
    expect(format(ctx)).toContain('"GET /v1/api/users HTTP/1.1"');
  });

  it('prints - for everything unset', () => {
    const bare: AccessLogContext = {
      startTime: Number.NaN,
      requestHeaders: () => undefined,
      responseHeaders: () => undefined,
      protocol: undefined,
      responseCode: 0,
      responseFlags: [],
      bytesReceived: 0,
      bytesSent: 0,
    };
    expect(format(bare)).toBe('[-] "- - -" 0 - 0 0 - - "-" "-" "-" "-" "-"\n');
  });
});

describe('compileFormat operators', () => {
  const render = (fmt: string, ctx: AccessLogContext = typicalRequest()): string => compileFormat(fmt)(ctx);

  it('REQ/RESP with alternatives, case-insensitive names and max length', () => {
    expect(render('%REQ(USER-AGENT):4%')).toBe('curl');
    expect(render('%REQ(X-MISSING?:AUTHORITY)%')).toBe('example.com');
    expect(render('%REQ(:Scheme)%')).toBe('http');
    expect(render('%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%|%RESP(X-NOPE)%')).toBe('9|-');
    expect(render('%REQ(X-EMPTY)%', { ...typicalRequest(), requestHeaders: getter({ 'x-empty': '' }) })).toBe('');
  });

  it('START_TIME with a strftime subset, in UTC', () => {
    expect(render('%START_TIME(%Y-%m-%dT%H:%M:%S)%')).toBe('2024-01-02T03:04:05');
    expect(render('%START_TIME(%s.%3f)%')).toBe(`${Math.floor(START / 1000)}.678`);
    expect(render('%START_TIME(%1f|%6f|%f|100%%)%')).toBe('6|678000|678000000|100%');
  });

  it('timings, addresses, cluster, route, details, attempts', () => {
    const line =
      '%DURATION% %REQUEST_DURATION% %RESPONSE_DURATION% %DOWNSTREAM_REMOTE_ADDRESS% ' +
      '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_ADDRESS% %UPSTREAM_CLUSTER% ' +
      '%ROUTE_NAME% %RESPONSE_CODE_DETAILS% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %PROTOCOL%';
    expect(render(line)).toBe('12 0 10 127.0.0.1:53412 127.0.0.1 127.0.0.1:10000 backend api via_upstream 1 HTTP/1.1');
  });

  it('failure details for the local reply', () => {
    expect(render('%RESPONSE_FLAGS_LONG% %UPSTREAM_TRANSPORT_FAILURE_REASON% %UPSTREAM_REQUEST_ATTEMPT_COUNT%', localReplyUfUrx())).toBe(
      'UpstreamConnectionFailure,UpstreamRetryLimitExceeded delayed_connect_error:_111 3',
    );
    expect(render('%UPSTREAM_REQUEST_ATTEMPT_COUNT%', { ...typicalRequest(), attemptCount: undefined })).toBe('0');
  });

  it('strips the port from IPv6 addresses', () => {
    expect(render('%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', { ...typicalRequest(), downstreamRemoteAddress: '[::1]:5000' })).toBe('::1');
  });

  it('%% is a literal percent sign and plain text passes through', () => {
    expect(render('100%% of %PROTOCOL%')).toBe('100% of HTTP/1.1');
    expect(render('')).toBe('');
  });
});

describe('compileFormat errors', () => {
  function errorOf(fmt: string): AccessLogFormatError {
    try {
      compileFormat(fmt);
    } catch (err) {
      expect(err).toBeInstanceOf(AccessLogFormatError);
      return err as AccessLogFormatError;
    }
    throw new Error(`expected ${JSON.stringify(fmt)} to be rejected`);
  }

  it('names an unknown operator', () => {
    const err = errorOf('[%START_TIME%] %BOGUS_FIELD%');
    expect(err.command).toBe('BOGUS_FIELD');
    expect(err.position).toBe(15);
    expect(err.message).toContain('unknown command operator %BOGUS_FIELD%');
    expect(errorOf('%HOSTNAME%').command).toBe('HOSTNAME');
  });

  it('rejects malformed commands and bad parameters', () => {
    expect(errorOf('%protocol%').message).toContain("Couldn't find valid command at position 0");
    expect(errorOf('abc %').message).toContain("Couldn't find valid command at position 4");
    expect(errorOf('%REQ%').message).toContain('REQ requires parameters');
    expect(errorOf('%PROTOCOL(x)%').message).toContain('PROTOCOL does not take any parameters or length');
    expect(errorOf('%DURATION:3%').message).toContain('DURATION does not take any parameters or length');
    expect(errorOf('%START_TIME:3%').message).toContain('START_TIME does not allow length');
    expect(errorOf('%REQ(A?B?C)%').message).toContain('More than 1 alternative header');
    expect(errorOf('%START_TIME(%j)%').message).toContain('unsupported time specifier %j');
  });
});
