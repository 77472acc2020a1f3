/**
 * The desktop's kernel log: a KmsgSource fed by the root helper's stream (the app itself is no
 * root and cannot read /dev/kmsg), resumed from the position the last run stored — with the boot it
 * was stored in (engine/logs/kmsg-position.ts, the decision `portcullis run` takes too): a position
 * of another boot is resumed from the start of this boot's ring, not after a seq this boot's
 * records reach only hours or days later. electron/main/index.ts wires it; the logic is here, tested.
 */
import type { KmsgPositionState } from '../engine/logs/kmsg-position.ts';
import { storedKmsgPosition } from '../engine/logs/kmsg-position.ts';
import { KmsgSource, PushKmsgFeed } from '../engine/logs/kmsg.ts';
import type { KmsgListener } from '../engine/helperclient/client.ts';
import { currentBootId } from '../node/boot-id.ts';

/** The desktop's state keys (apart from `portcullis run`'s: the two may share no database, but need not). */
export const DESKTOP_KMSG_KEYS = { seq: 'desktop.kmsg.lastSeq', boot: 'desktop.kmsg.bootId' } as const;

/** What the desktop asks of the helper client: its kernel-log stream (HelperClient.streamKmsg). */
export interface KmsgStreamer {
  streamKmsg(afterSeq: number | null | 'now', listener: KmsgListener, onError?: (message: string | null) => void): Promise<() => void>;
}

export interface DesktopKmsg {
  source: KmsgSource;
  /**
   * Asks a (newly connected) helper for its stream, after the last record handled — -1 after a
   * reboot, 'now' on a first run. A failed stream is the source's error (Dashboard, tray) until the
   * client says a start of it took (its own restart, or a new helper's stream).
   */
  stream(client: KmsgStreamer): Promise<() => void>;
}

/** `state`: get/set immediate, queue with the stored packets (the position must match them). */
export function desktopKmsg(state: KmsgPositionState & { queue(key: string, value: string): void }, bootId: string | null = currentBootId()): DesktopKmsg {
  const feed = new PushKmsgFeed();
  const resumeAfterSeq = storedKmsgPosition(state, DESKTOP_KMSG_KEYS, bootId);
  const source = new KmsgSource({ feed, resumeAfterSeq, onSeq: (seq) => state.queue(DESKTOP_KMSG_KEYS.seq, String(seq)) });
  return {
    source,
    stream: (client) =>
      client.streamKmsg(
        source.position() ?? 'now',
        (records, skipped) => feed.push(records, skipped),
        (message) => (message === null ? feed.running() : feed.fail(message)),
      ),
  };
}
