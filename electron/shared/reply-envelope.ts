/**
 * The reply envelope both protocols speak — the API (api-reply.ts: UI, WebSocket, control socket)
 * and the root helper's (helper-protocol.ts): `{ok: true, result}` or `{ok: false, error: {code,
 * message}}`, the code from the protocol's closed set — and the error a client throws for a refused
 * call. Built here once, each protocol giving its codes, the fields it adds (the helper's `id`) and
 * whether unknown fields are refused. In `zod/mini` and nothing else: `portcullis status` loads it.
 */
import * as z from 'zod/mini';

type Shape = z.core.$ZodLooseShape;
type EnvelopeObject<S extends Shape, Strict extends boolean> = Strict extends true ? z.ZodMiniObject<S, z.core.$strict> : z.ZodMiniObject<S, z.core.$strip>;

/** The error schema and the reply schema of a protocol whose error codes are `codes`. */
export function replyEnvelope<Codes extends z.core.$ZodType<string>, Extra extends Shape = Record<never, never>, Strict extends boolean = false>(
  codes: Codes,
  options: { extra?: Extra; strict?: Strict } = {},
) {
  const object = (options.strict ? z.strictObject : z.object) as <S extends Shape>(shape: S) => EnvelopeObject<S, Strict>;
  const extra = (options.extra ?? {}) as Extra;
  const error = z.object({ code: codes, message: z.string() });
  const reply = z.union([object({ ...extra, ok: z.literal(true), result: z.unknown() }), object({ ...extra, ok: z.literal(false), error })]);
  return { error, reply };
}

/** A refusal as the envelope carries it (the helper adds its `id`). */
export function failure<Code extends string>(code: Code, message: string): { ok: false; error: { code: Code; message: string } } {
  return { ok: false, error: { code, message } };
}

/**
 * A refused call as a client throws it: the protocol's code and the message, as the envelope carried
 * them. Each protocol's subclass sets its `name` as a literal (a minified bundle renames classes).
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string) {
    super(message);
    this.code = code;
  }
}
