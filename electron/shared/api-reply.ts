/**
 * The wire form of an API reply and its error, shared by every transport, and the client-side
 * step that turns a reply into a result or a thrown ApiError. In `zod/mini` for the same reason as
 * `api-state.ts`: a CLI client (`portcullis status`) checks its reply without loading zod's whole
 * classic API. `api.ts` re-exports everything here.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { CodedError, failure, replyEnvelope } from './reply-envelope.ts';

// zod's readable English messages ("expected number, received string"); zod classic sets the same
// when it loads, mini alone does not.
z.config(en());

/** `conflict`: the request was about something that changed meanwhile (a rule the user saw is gone). */
export const ApiErrorCodeSchema = z.enum(['invalid', 'unknown-method', 'read-only', 'needs-confirmation', 'conflict', 'unavailable', 'failed']);
export type ApiErrorCode = z.infer<typeof ApiErrorCodeSchema>;
const envelope = replyEnvelope(ApiErrorCodeSchema);
export const ApiErrorSchema = envelope.error;

export class ApiError extends CodedError<ApiErrorCode> {
  override readonly name = 'ApiError';
}

/** Wire form of a reply, the same over IPC and WebSocket. */
export const ApiReplySchema = envelope.reply;
export type ApiReply = z.infer<typeof ApiReplySchema>;

/** A refused call's reply, its code checked against the API's. */
export function apiFailure(code: ApiErrorCode, message: string): ApiReply {
  return failure(code, message);
}

/** Client side: a wire reply checked against the method's result schema, or a thrown ApiError. */
export function unwrapResult<T>(reply: unknown, result: { parse(v: unknown): T }): T {
  const r = ApiReplySchema.parse(reply);
  if (!r.ok) throw new ApiError(r.error.code, r.error.message);
  return result.parse(r.result);
}
