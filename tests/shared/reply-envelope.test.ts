/**
 * The API's reply and the root helper's response come from one envelope builder
 * (shared/reply-envelope.ts); each keeps what it had: the API's codes and loose objects, the
 * helper's codes, its `id` (a safe integer or null) and its refusal of unknown fields.
 */
import { describe, expect, it } from 'vitest';
import { ApiError, ApiReplySchema, unwrapResult } from '../../electron/shared/api-reply.ts';
import { HelperError, HelperResponseSchema, HelperServerLineSchema } from '../../electron/shared/helper-protocol.ts';

const any = { parse: (v: unknown) => v };

describe('the API reply', () => {
  it('is a result or an error with one of the API codes; a client throws ApiError with its code', () => {
    expect(ApiReplySchema.parse({ ok: true, result: [1] })).toEqual({ ok: true, result: [1] });
    expect(ApiReplySchema.safeParse({ ok: false, error: { code: 'unknown-op', message: 'x' } }).success).toBe(false);
    expect(ApiReplySchema.parse({ ok: true, result: 1, extra: 2 })).toEqual({ ok: true, result: 1 });
    const e = (() => {
      try {
        unwrapResult({ ok: false, error: { code: 'read-only', message: 'no helper' } }, any);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'ApiError', code: 'read-only', message: 'no helper' });
  });
});

describe("the helper's response", () => {
  it('carries its id (a safe integer or null) on both sides, with the helper codes, and refuses unknown fields', () => {
    expect(HelperResponseSchema.parse({ id: 3, ok: true, result: null })).toEqual({ id: 3, ok: true, result: null });
    expect(HelperResponseSchema.parse({ id: null, ok: false, error: { code: 'too-large', message: 'm' } })).toEqual({ id: null, ok: false, error: { code: 'too-large', message: 'm' } });
    expect(HelperResponseSchema.safeParse({ ok: true, result: 1 }).success).toBe(false);
    expect(HelperResponseSchema.safeParse({ id: 1.5, ok: true, result: 1 }).success).toBe(false);
    expect(HelperResponseSchema.safeParse({ id: 2 ** 53, ok: true, result: 1 }).success).toBe(false);
    expect(HelperResponseSchema.safeParse({ id: 1, ok: true, result: 1, extra: 2 }).success).toBe(false);
    expect(HelperResponseSchema.safeParse({ id: 1, ok: false, error: { code: 'read-only', message: 'm' } }).success).toBe(false);
    expect(HelperServerLineSchema.safeParse({ id: 1, ok: true, result: 1 }).success).toBe(true);
    expect(HelperServerLineSchema.safeParse({ event: 'kmsg-error', message: 'gone' }).success).toBe(true);
  });

  it('a HelperError is an Error with its name and code', () => {
    const e = new HelperError('conflict', 'changed meanwhile');
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'HelperError', code: 'conflict', message: 'changed meanwhile' });
    expect(String(e)).toBe('HelperError: changed meanwhile');
  });
});
