/**
 * Other holders of a database file's write lock, for the tests of what the service does while it
 * cannot write (an `sqlite3` shell in a transaction, a backup): a second connection in this thread
 * (SQLite's file locks between two connections of one process are those another process meets), or
 * another process that holds the lock for a while on its own.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { DatabaseSync } from 'node:sqlite';

/** Another connection to the file, holding its write lock until release(). */
export function holdWriteLock(file: string): { db: DatabaseSync; release(): void } {
  const db = new DatabaseSync(file);
  db.exec('BEGIN IMMEDIATE');
  return {
    db,
    release: () => {
      if (db.isTransaction) db.exec('ROLLBACK');
      if (db.isOpen) db.close();
    },
  };
}

/**
 * Another process that takes the file's write lock (waiting for it when `taken` is held here: call
 * `taken` after releasing that) and holds it for `ms` from when `locked` resolves; `exited` once it has let go.
 */
export function lockInChild(file: string, ms: number): { locked: Promise<void>; exited: Promise<unknown> } {
  const code = `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1], { timeout: 30000 }); db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n'); setTimeout(() => { db.exec('ROLLBACK'); db.close(); }, Number(process.argv[2]));`;
  const child = spawn(process.execPath, ['-e', code, file, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.on('exit', (c) => reject(new Error(`the lock holder exited (${c}) before it held the lock`)));
  });
  return { locked, exited };
}
