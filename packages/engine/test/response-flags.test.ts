import { describe, expect, it } from 'vitest';
import {
  formatResponseFlags,
  formatResponseFlagsLong,
  isResponseFlag,
  RESPONSE_FLAG_LONG_NAMES,
  RESPONSE_FLAG_ORDER,
  ResponseFlag,
} from '../src/stats/response-flags';

describe('response flags', () => {
  it('lists the flags in Envoy order', () => {
    expect(RESPONSE_FLAG_ORDER.join(',')).toBe(
      'LH,UH,UT,LR,UR,UF,UC,UO,NR,DI,FI,RL,UAEX,RLSE,DC,URX,SI,IH,DPE,UMSDR,RFCF,NFCF,DT,UPE,NC,OM,DF,DO,DR',
    );
  });

  it('prints - when no flag is set', () => {
    expect(formatResponseFlags([])).toBe('-');
    expect(formatResponseFlags(new Set())).toBe('-');
    expect(formatResponseFlagsLong([])).toBe('-');
  });

  it('joins with "," in the fixed order, whatever order they were set in', () => {
    expect(formatResponseFlags(new Set(['URX', 'UF']))).toBe('UF,URX');
    expect(formatResponseFlags(['DR', 'UO', 'LH', 'UT'])).toBe('LH,UT,UO,DR');
    expect(formatResponseFlags(['UF', 'UF'])).toBe('UF');
  });

  it('prints long names in the same order', () => {
    expect(formatResponseFlagsLong(new Set([ResponseFlag.UpstreamRetryLimitExceeded, ResponseFlag.UpstreamConnectionFailure]))).toBe(
      'UpstreamConnectionFailure,UpstreamRetryLimitExceeded',
    );
    expect(RESPONSE_FLAG_LONG_NAMES.NR).toBe('NoRouteFound');
    expect(RESPONSE_FLAG_LONG_NAMES.OM).toBe('OverloadManagerTerminated');
    expect(RESPONSE_FLAG_LONG_NAMES.DC).toBe('DownstreamConnectionTermination');
  });

  it('keeps unknown strings after the known flags instead of dropping them', () => {
    expect(formatResponseFlags(['XX', 'UH'])).toBe('UH,XX');
    expect(formatResponseFlagsLong(['XX', 'UH'])).toBe('NoHealthyUpstream,XX');
    expect(isResponseFlag('UH')).toBe(true);
    expect(isResponseFlag('XX')).toBe(false);
  });
});
