/** The live log sources (kmsg, journald, file tail) and their auto-detection. */
export { DevKmsgFeed, KmsgSource, newestKmsgSeq, parseKmsgHeader, PushKmsgFeed } from './kmsg.ts';
export type { KmsgFeed, KmsgFeedSink, KmsgRecord, KmsgSourceOptions } from './kmsg.ts';
export { JournalSource } from './journal.ts';
export type { JournalRecordInfo, JournalSourceOptions } from './journal.ts';
export { FileTailSource } from './file.ts';
export type { FilePosition, FileTailOptions } from './file.ts';
export { DEFAULT_LOG_FILES, detectSource, journalUsable, kmsgUsable } from './detect.ts';
export type { DetectOptions, Detected, SourceKind } from './detect.ts';
export { MinuteRate, SourceStats } from './stats.ts';
