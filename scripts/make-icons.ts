/**
 * Draws Portcullis's icons as PNG files with no image tool: a gate (arched frame with a portcullis
 * grid) in the colour of each tray state, anti-aliased by 4×4 supersampling, encoded with node:zlib.
 *   assets/tray/<state>.png (32 px) and <state>@2x.png (64 px) — Electron picks @2x on HiDPI
 *   build/icons/<N>x<N>.png — the application icon set electron-builder uses for Linux
 * Usage: node scripts/make-icons.ts   (the PNGs are committed; rerun only to change the drawing)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const STATE_COLOURS = {
  protected: [0x2e, 0x9d, 0x5b],
  paused: [0x8a, 0x8f, 0x98],
  'firewall-off': [0xd0, 0x34, 0x2c],
  'recent-ban': [0xe8, 0x89, 0x0c],
  // Protected, but the database cannot be written (a full disk): the history is not saved.
  'not-saving': [0xd8, 0xb5, 0x0f],
} as const;
const APP_COLOUR = [0x2b, 0x5c, 0xb8] as const;

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** RGBA pixels (row-major) → PNG bytes. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** 0 outside, 1 = gate body (colour), 2 = grid bars (white), 3 = the dark opening behind the grid. Unit square. */
function shapeAt(x: number, y: number): 0 | 1 | 2 | 3 {
  const left = 0.12;
  const right = 0.88;
  const top = 0.06;
  const bottom = 0.94;
  const cx = 0.5;
  const r = (right - left) / 2;
  const archY = top + r;
  const inArch = y < archY ? (x - cx) ** 2 + (y - archY) ** 2 <= r * r : true;
  if (x < left || x > right || y < top || y > bottom || !inArch) return 0;
  // The opening of the gate: an inner arch where the portcullis grid hangs.
  const il = 0.26;
  const ir = 0.74;
  const ib = 0.94;
  const irad = (ir - il) / 2;
  const iarchY = 0.2 + irad;
  const inInner = x > il && x < ir && y < ib && (y >= iarchY || (x - cx) ** 2 + (y - iarchY) ** 2 <= irad * irad);
  if (!inInner) return 1;
  const bar = 0.055;
  const verticals = [0.36, 0.5, 0.64];
  const horizontals = [0.5, 0.68];
  const onV = verticals.some((v) => Math.abs(x - v) < bar / 2) && y < 0.9;
  // Spikes at the bottom of each vertical bar.
  const spike = verticals.some((v) => y >= 0.86 && y < 0.94 && Math.abs(x - v) < (bar / 2) * (1 - (y - 0.86) / 0.08));
  const onH = horizontals.some((h) => Math.abs(y - h) < bar / 2);
  return onV || onH || spike ? 2 : 3;
}

export function drawGate(size: number, colour: readonly [number, number, number]): Uint8Array {
  const px = new Uint8Array(size * size * 4);
  const ss = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Colours of the three painted parts: the state colour, white bars, a dark shade behind them.
      const paints = [colour, [255, 255, 255], colour.map((c) => Math.round(c * 0.3))] as const;
      const counts = [0, 0, 0];
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const s = shapeAt((x + (sx + 0.5) / ss) / size, (y + (sy + 0.5) / ss) / size);
          if (s > 0) counts[s - 1]!++;
        }
      }
      const covered = counts[0]! + counts[1]! + counts[2]!;
      if (covered === 0) continue;
      const i = (y * size + x) * 4;
      for (let ch = 0; ch < 3; ch++) {
        px[i + ch] = Math.round(paints.reduce((sum, p, k) => sum + p[ch]! * counts[k]!, 0) / covered);
      }
      px[i + 3] = Math.round((255 * covered) / (ss * ss));
    }
  }
  return px;
}

export function makeIcons(root = ROOT): string[] {
  const written: string[] = [];
  const write = (rel: string, size: number, colour: readonly [number, number, number]) => {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, encodePng(size, size, drawGate(size, colour)));
    written.push(rel);
  };
  for (const [state, colour] of Object.entries(STATE_COLOURS)) {
    write(`assets/tray/${state}.png`, 32, colour);
    write(`assets/tray/${state}@2x.png`, 64, colour);
  }
  for (const size of [16, 32, 48, 64, 128, 256, 512]) write(`build/icons/${size}x${size}.png`, size, APP_COLOUR);
  return written;
}

if (import.meta.main) {
  for (const f of makeIcons()) console.log(`wrote ${f}`);
}
