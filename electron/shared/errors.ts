/**
 * The one way to turn a thrown value into the text a user or a log reads. Node's system errors and
 * our own coded errors carry `message`; anything else thrown is shown as it stringifies.
 */
export function errorText(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) return String((e as { message: unknown }).message);
  return e instanceof Error ? e.message : String(e);
}
