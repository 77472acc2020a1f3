// What prefix tracking costs the detection alone (issue 12), with the parse taken out: the log is
// parsed once into record batches (ReplayParser), then fed to a fresh ReplaySession again and
// again, default /64 and --ipv6-prefix 128 alternated, CPU time of this one thread per pass.
// Much less noisy than whole processes on a shared machine; give two checkouts to compare them
// (run one process per checkout, alternately).
//   ./node_modules/.bin/node --max-semi-space-size=1 bench/prefix-cost-engine.mjs ROOT FILE PASSES
// ROOT: a checkout (absolute path) whose electron/ sources are loaded; FILE: e.g. the engine bench's
// /tmp/portcullis-bench/gen-1000000-seed1.log (syslog framing, year 2026).
import { readFileSync } from 'node:fs';
const [root, file, n] = process.argv.slice(2);
const { RECORD_INTS } = await import(root + '/electron/engine/records.ts');
const { ReplayParser } = await import(root + '/electron/engine/replay-parse.ts');
const { ReplaySession } = await import(root + '/electron/engine/replay.ts');
const { SettingsSchema } = await import(root + '/electron/shared/settings.ts');
const batches = [];
const parser = new ReplayParser({ framing: 'syslog', year: 2026 }, (b) => batches.push({ ints: b.ints.slice(0, b.count * RECORD_INTS), count: b.count, news: [...b.news], sides: [...b.sides], framing: b.framing }));
const buf = readFileSync(file);
for (let o = 0; o < buf.length; o += 1 << 20) parser.push(buf.subarray(o, Math.min(buf.length, o + (1 << 20))));
parser.end();
const res = { on: [], off: [] };
let bans = {};
for (let i = 0; i < Number(n); i++) {
  for (const mode of i % 2 ? ['off', 'on'] : ['on', 'off']) {
    const settings = SettingsSchema.parse({ detection: { ipv6PrefixLength: mode === 'on' ? 64 : 128 } });
    const c0 = process.cpuUsage();
    const s = new ReplaySession({ settings, framing: 'syslog', year: 2026 });
    for (const b of batches) s.ingest(b);
    const sum = s.end();
    res[mode].push(process.cpuUsage(c0).user / 1e6);
    bans[mode] = sum.bans.length;
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
console.log(root, 'on', med(res.on).toFixed(3), 'off', med(res.off).toFixed(3), 'ratio', (med(res.on) / med(res.off)).toFixed(3), 'min ratio', (Math.min(...res.on) / Math.min(...res.off)).toFixed(3), JSON.stringify(bans), res.on.map((x) => x.toFixed(2)).join(' '), '|', res.off.map((x) => x.toFixed(2)).join(' '));
