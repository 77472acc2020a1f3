/**
 * What logs.source may be: the settings' schema, `run --source` and `doctor --fix` reading a config
 * all check it here (a module of its own: the CLI's argument check loads no schema). nflog: the
 * kernel's NFLOG messages of Portcullis's group over netlink (engine/logs/nflog.ts); it sees only
 * what the NFLOG rules log (the logging blocks' nflog variant), so auto picks it only where the
 * per-source logging block is installed (headless/log-source-choice.ts).
 */
export const LOG_SOURCE_PATTERN = /^(auto|kmsg|journal|nflog|file:\/.+)$/;
export const LOG_SOURCE_VALUES = 'auto, kmsg, journal, nflog or file:/absolute/path';
