/** Types of parent-watch.js (plain JavaScript: it runs before anything TypeScript is loaded). */
export declare function parentOf(pid: number): number | null;
export declare function watchParents(onOrphaned: () => void, opts?: { periodMs?: number; pid?: number; ppid?: number }): () => void;
export declare function startedByNpm(env?: Record<string, string | undefined>): boolean;
